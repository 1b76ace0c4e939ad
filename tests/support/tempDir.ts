import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";

/** The directory of the test that runs now; see {@link useTempDir}. */
export interface TempDir {
  /** The current test's directory (set before its `beforeEach` hooks that come after the call). */
  readonly path: string;
}

/**
 * Mocha hooks that give each test of the calling suite a new empty directory `<prefix>...` under
 * the system's temporary directory and remove it, with all it holds, after the test. Call it in
 * the `describe` body; a hook or test reads the directory as `path` of what it returns.
 */
export function useTempDir(prefix: string): TempDir {
  let current = "";
  beforeEach(async () => {
    current = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  });
  afterEach(async () => {
    await fs.rm(current, { recursive: true, force: true });
  });
  return {
    get path(): string {
      return current;
    },
  };
}
