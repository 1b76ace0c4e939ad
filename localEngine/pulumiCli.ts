/**
 * The real Pulumi CLI, run as a child process against a local file backend with a passphrase
 * secrets provider, downloading nothing: the engine of `npm start --engine pulumi` and of the
 * engine test tier. The CLI is the user's (`pulumi` on the PATH) or the one `engine/build-pulumi.sh`
 * builds from Go modules into the cache (once per machine).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { promisify } from "node:util";
import { findRepositoryRoot } from "./repositoryRoot";

const execFileAsync = promisify(execFile);

/** The passphrase of the engine tier's stacks (a test secret, not a credential). */
export const PASSPHRASE = "engine-tier-passphrase";

/** A Pulumi CLI found on this machine. */
export interface FoundPulumiCli {
  /** The directory holding `pulumi` (and, beside it, its language host and dynamic provider plugin). */
  binDir: string;
  /** Where it was found: the PATH (a user's install) or the cache `engine/build-pulumi.sh` fills. */
  source: "path" | "cache";
}

/**
 * The Pulumi CLI to run, without building anything: `pulumi` on `searchPath` first (what a user
 * runs), else a current build in the cache (`engine/build-pulumi.sh --check`). Undefined when
 * there is neither.
 */
export async function findPulumiCli(
  searchPath: string = process.env.PATH ?? "",
): Promise<FoundPulumiCli | undefined> {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    try {
      await fs.access(path.join(dir, "pulumi"), fs.constants.X_OK);
      return { binDir: dir, source: "path" };
    } catch {
      // not in this directory
    }
  }
  const script = path.join(findRepositoryRoot(), "engine", "build-pulumi.sh");
  try {
    const { stdout } = await execFileAsync("bash", [script, "--check"]);
    const binDir = stdout.trim().split("\n").pop();
    return binDir ? { binDir, source: "cache" } : undefined;
  } catch {
    return undefined; // not built, or built from an older engine/
  }
}

/** The CLI's version (`pulumi version`), such as `v3.274.1`. */
export async function pulumiVersion(binDir: string): Promise<string> {
  const { stdout } = await execFileAsync(path.join(binDir, "pulumi"), ["version"], {
    env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" },
  });
  return stdout.trim();
}

/**
 * The directory holding `pulumi`, `pulumi-language-nodejs` and `pulumi-resource-pulumi-nodejs`:
 * builds them when missing (the first run on a machine takes many minutes), reuses them otherwise.
 * Rejects with the build script's own explanation when Go or the module proxy is missing.
 */
export async function ensurePulumiCli(): Promise<string> {
  const script = path.join(findRepositoryRoot(), "engine", "build-pulumi.sh");
  const child = spawn("bash", [script], { stdio: ["ignore", "pipe", "inherit"] });
  let stdout = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  if (code !== 0)
    throw new Error(`engine/build-pulumi.sh failed (exit ${String(code)}): see its lines above`);
  const lines = stdout.trim().split("\n");
  return lines[lines.length - 1] ?? "";
}

/** Where one Pulumi run happens: the CLI, the program, the backend and the emulator's endpoint. */
export interface PulumiContext {
  /** Directory of the CLI and its plugins. */
  binDir: string;
  /** The Pulumi project's directory. */
  programDir: string;
  /** The file backend's directory (`file://<dir>`); also holds PULUMI_HOME. */
  backendDir: string;
  /** The emulator's endpoint, for both APIs. */
  endpoint: string;
  /** The stacks' passphrase (`PULUMI_CONFIG_PASSPHRASE`). Default {@link PASSPHRASE}. */
  passphrase?: string;
  /**
   * Directories searched for plugins before the CLI's own (put first on the PATH, where the CLI
   * looks for "ambient" plugins). Default none.
   */
  pluginDirs?: string[];
  /** More environment variables of every run (they win over the defaults). Default none. */
  env?: Record<string, string>;
}

/** The environment of every CLI run: no update check, no plugin download, the emulator's endpoints. */
export function pulumiEnv(context: PulumiContext): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: [...(context.pluginDirs ?? []), context.binDir, process.env.PATH ?? ""].join(
      path.delimiter,
    ),
    PULUMI_HOME: path.join(context.backendDir, ".pulumi-home"),
    PULUMI_BACKEND_URL: `file://${context.backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: context.passphrase ?? PASSPHRASE,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_SKIP_CONFIRMATIONS: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    PCI_COMPUTE_ENDPOINT: context.endpoint,
    PCI_STORAGE_ENDPOINT: context.endpoint,
    // Defence in depth, as in tests/support/noMetadataServer: credentials never leave loopback.
    GCE_METADATA_HOST: "127.0.0.1:9",
    GCE_METADATA_IP: "127.0.0.1:9",
    METADATA_SERVER_DETECTION: "none",
    NO_COLOR: "1",
    ...context.env,
  };
  delete env.GOOGLE_APPLICATION_CREDENTIALS;
  delete env.PULUMI_ACCESS_TOKEN;
  return env;
}

/** What a finished CLI run printed. */
export interface CliResult {
  /** Exit status (null when a signal ended it). */
  code: number | null;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Runs `pulumi <args>` in the program directory; resolves with its output whatever the status. */
export async function pulumi(context: PulumiContext, args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFileAsync(path.join(context.binDir, "pulumi"), args, {
      cwd: context.programDir,
      env: pulumiEnv(context),
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string };
    if (failed.stdout === undefined) throw error;
    return {
      code: typeof failed.code === "number" ? failed.code : null,
      stdout: failed.stdout,
      stderr: failed.stderr ?? "",
    };
  }
}

/** Runs `pulumi <args>` and throws with its output unless it succeeded. */
export async function pulumiOk(context: PulumiContext, args: string[]): Promise<CliResult> {
  const result = await pulumi(context, args);
  if (result.code !== 0) {
    throw new Error(
      `pulumi ${args.join(" ")} exited with ${String(result.code)}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
    );
  }
  return result;
}

/** A CLI run in progress (to interrupt it). */
export interface RunningCli {
  /** The CLI's process. */
  child: ChildProcess;
  /** Output so far. */
  output(): string;
  /** Resolves when the CLI has exited. */
  done: Promise<CliResult>;
}

/**
 * Starts `pulumi <args>` without waiting for it; `onLine` receives each line of its output as it
 * comes (standard output and error alike).
 */
export function startPulumi(
  context: PulumiContext,
  args: string[],
  onLine?: (line: string) => void,
): RunningCli {
  const child = spawn(path.join(context.binDir, "pulumi"), args, {
    cwd: context.programDir,
    env: pulumiEnv(context),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const lines = { stdout: "", stderr: "" };
  const forward = (stream: keyof typeof lines, chunk: string): void => {
    if (!onLine) return;
    const parts = (lines[stream] + chunk).split("\n");
    lines[stream] = parts.pop() ?? "";
    for (const line of parts) onLine(line);
  };
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    forward("stdout", chunk);
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
    forward("stderr", chunk);
  });
  child.on("close", () => {
    for (const rest of [lines.stdout, lines.stderr]) if (rest && onLine) onLine(rest);
  });
  const done = new Promise<CliResult>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, output: () => stdout + stderr, done };
}
