/**
 * Runs one of the repository's examples as `npm start -- <example>` does (the local engine, the
 * emulator with QEMU machines booting the COS-shaped guest), recording what the person watching
 * would see, and hands the tests a {@link QemuCloud} view of its emulator for verification VMs.
 */
import { createGcpClients } from "../../../components/google/clients";
import * as runtime from "../../../components/provider/runtime";
import type { Emulator } from "../../../emulator";
import {
  runExampleLocally,
  type LocalRunOptions,
  type LocalRunResult,
} from "../../../localEngine/localRun";
import { E2E_PROJECT, type QemuCloud } from "./qemuCloud";

/** What an example's run left for the tests. */
export interface ExampleRun {
  /** The run's result; undefined when it failed (see {@link failure}). */
  result?: LocalRunResult;
  /** Why the run failed. */
  failure?: Error;
  /** The run's lines and the build's progress (serial port 3 included), in order. */
  lines: string[];
}

/** The run's result, for a test; throws why the run failed, or that it never ran. */
export function deployedResult(run: ExampleRun): LocalRunResult {
  if (!run.result)
    throw run.failure ?? new Error("the example did not run (its before hook failed)");
  return run.result;
}

/** Options of {@link runExampleOnQemu}. */
export interface ExampleRunOptions extends Pick<LocalRunOptions, "config" | "machines"> {
  /** The example's directory name under `examples/`. */
  example: string;
  /** The run's data directory (made by the caller, removed by it). */
  dataDir: string;
  /**
   * Called after a successful deployment, before the emulator stops, with a cloud for
   * verification VMs (`verifyOnNewVm`). A rejection fails the run.
   */
  afterDeploy?: (cloud: QemuCloud, result: LocalRunResult) => Promise<void>;
}

/** Runs the example; never rejects: a failure is returned, for every test of the suite to show. */
export async function runExampleOnQemu(options: ExampleRunOptions): Promise<ExampleRun> {
  const lines: string[] = [];
  const started = Date.now();
  const record = (prefix: string) => (message: string) => {
    lines.push(message);
    console.log(`      [build] ${prefix}${message}`);
  };
  const restore = runtime.configureRuntime({
    progress: () => ({ info: record(""), warn: record("warning: ") }),
  });
  const { afterDeploy } = options;
  const run: ExampleRun = { lines };
  try {
    run.result = await runExampleLocally({
      example: options.example,
      dataDir: options.dataDir,
      fresh: true,
      ...(options.config ? { config: options.config } : {}),
      ...(options.machines ? { machines: options.machines } : {}),
      write: (line) => {
        lines.push(line);
        console.log(`      [npm start ${options.example}] ${line}`);
      },
      ...(afterDeploy
        ? {
            afterDeploy: (emulator, result) =>
              withCloud(emulator, (cloud) => afterDeploy(cloud, result)),
          }
        : {}),
    });
  } catch (error) {
    run.failure = error instanceof Error ? error : new Error(String(error));
  } finally {
    restore();
  }
  console.log(
    `      [e2e timing] ${options.example} example on QEMU, with its verification: ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return run;
}

/** Calls `use` with a {@link QemuCloud} over the run's emulator (its clients closed after). */
async function withCloud<T>(emulator: Emulator, use: (cloud: QemuCloud) => Promise<T>): Promise<T> {
  const clients = createGcpClients({
    endpoints: { compute: emulator.endpoint, storage: emulator.endpoint },
    projectId: E2E_PROJECT,
  });
  try {
    return await use({
      emulator,
      clients,
      progress: [],
      machineRuns: [],
      close: () => clients.close(),
    });
  } finally {
    await clients.close();
  }
}
