// The harness's waiting helpers, under the name the unit tests import.
export {type Deferred, deferred, waitFor} from '../../harness/wait.cjs';
