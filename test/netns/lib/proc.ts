// The tests run their commands with the package's own runner (ts/proc.ts): every child has a hard time limit
// (20 s unless given) so a wedged tool fails a test instead of hanging the run. Kept under this path and these
// names, which the netns tests and their helpers import.
export { CommandError, must, mustDetaching, run, runDetaching, start } from '../../../ts/proc';
export type { Background, RunOptions, RunResult } from '../../../ts/proc';
