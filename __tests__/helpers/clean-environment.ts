// Tests pass every setting explicitly: a developer's own VIBRANT_* variables must not change them
// (nor the child processes they spawn, which inherit this environment).
for (const name of Object.keys(process.env)) {
	if (name.startsWith('VIBRANT_') || name === 'NODE_DEBUG') {
		Reflect.deleteProperty(process.env, name);
	}
}
