import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import YAML from "yaml";
import type { EmulatorOptions } from "../../emulator";
import { startEmulatorCloud, type EmulatorCloud } from "../support/emulatorCloud";
import { BUCKET, ONE_SCRIPT_BUILD, PROJECT } from "./buildHarness";

/** The command run as a child process against an emulator of the test process. */

/** `dist/components/cli/main.js`, next to this file's compiled copy. */
export const MAIN = path.resolve(__dirname, "../../components/cli/main.js");

/** What a run of the command printed, and how it ended. */
export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link runCli}. */
export interface CliOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Called with stderr so far on every chunk, and the child (to send it signals). */
  onStderr?: (stderr: string, kill: (signal: NodeJS.Signals) => void) => void;
}

/** Runs `node main.js ...args` to its end. */
export function runCli(cloud: EmulatorCloud | undefined, args: string[], options: CliOptions) {
  const endpoint = cloud?.emulator.endpoint ?? "http://127.0.0.1:9";
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: options.cwd,
    env: {
      PATH: process.env.PATH,
      PCI_COMPUTE_ENDPOINT: endpoint,
      PCI_STORAGE_ENDPOINT: endpoint,
      PCI_TEST_FAST_POLLING: "1",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    options.onStderr?.(stderr, (signal) => child.kill(signal));
  });
  return new Promise<CliRun>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A directory with a build context `image/setup.sh` and a config file `image.yaml` of `config`. */
export function makeProject(config: Record<string, unknown>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pci-cli-"));
  fs.mkdirSync(path.join(dir, "image"));
  fs.writeFileSync(path.join(dir, "image", "setup.sh"), "echo setting up\n");
  writeConfig(dir, config);
  return dir;
}

/** (Re)writes `image.yaml` in `dir`. */
export function writeConfig(dir: string, config: Record<string, unknown>): void {
  fs.writeFileSync(path.join(dir, "image.yaml"), YAML.stringify(config));
}

/** A working configuration: the fixture's project, zone and bucket, one script. */
export function baseConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: "ci-web", ...ONE_SCRIPT_BUILD, ...extra };
}

/** Starts the emulator with the fixture's bucket; the request log starts empty. */
export async function startCloud(emulator: EmulatorOptions = {}): Promise<EmulatorCloud> {
  const cloud = await startEmulatorCloud({
    project: PROJECT,
    bucket: BUCKET,
    emulator: { guestShutdownGraceMs: 500, ...emulator },
  });
  cloud.emulator.requestLog.clear();
  return cloud;
}

/** Methods that change something: every logged method but reads. */
export function mutatingCalls(cloud: EmulatorCloud): string[] {
  return cloud.emulator.requestLog
    .entries()
    .map((e) => e.method)
    .filter((m) => !/\.(get|list|aggregatedList|getFromFamily|wait)$/.test(m));
}
