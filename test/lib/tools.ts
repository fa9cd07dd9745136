// Small helpers for the suites that need a tool from outside the repository. Not a test file itself.
import { accessSync, constants } from 'node:fs';

/** Whether `file` exists and may be run. */
export function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
