import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { recordingProgress } from "../../components/pipeline/progress";
import * as runtime from "../../components/provider/runtime";
import { findRepositoryRoot } from "../../localEngine/localRun";
import { FAST_PIPELINE } from "./buildHarness";

/** What {@link useLocalRun} gives each test; `workDir` is a new directory for every test. */
export interface LocalRunScaffold {
  /** A fresh directory under the system's temporary directory, removed after the test. */
  workDir: string;
}

/**
 * Mocha hooks for the tests that run a program through the local engine. Before each test: the
 * provider runtime on {@link FAST_PIPELINE}, its progress recorded rather than printed (the
 * engine's own lines are what these tests read), and a fresh work directory named `<prefix>...`.
 * After each: the runtime restored and the directory removed. Call it at the top of the
 * `describe`, so that the suite's own hooks run after it and find `workDir` set.
 */
export function useLocalRun(prefix: string): LocalRunScaffold {
  const scaffold: LocalRunScaffold = { workDir: "" };
  let restoreRuntime: (() => void) | undefined;
  beforeEach(async () => {
    restoreRuntime = runtime.configureRuntime({
      progress: () => recordingProgress(),
      pipeline: FAST_PIPELINE,
    });
    scaffold.workDir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  });
  afterEach(async () => {
    restoreRuntime?.();
    restoreRuntime = undefined;
    await fs.rm(scaffold.workDir, { recursive: true, force: true });
  });
  return scaffold;
}

/** Copies the repository's examples/hello to `dir`, for a test that edits it; returns `dir`. */
export async function copyHelloExample(dir: string): Promise<string> {
  await fs.cp(path.join(findRepositoryRoot(), "examples", "hello"), dir, { recursive: true });
  return dir;
}
