import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  ACK_METADATA_KEY,
  PROTOCOL_VERSION,
  type ProvisionerConfig,
  type ProvisionerStep,
} from "../../../components/guest/protocol";
import { renderProvisionerConfig } from "../../../components/guest/provisionerConfig";
import { provisionerEntries } from "../../../components/guest/cidataTree";
import type { FakeMetadataServer } from "./metadataServer";
import { ASSETS_DIR, STUBS_DIR } from "./paths";

/** A proxy that refuses every connection (nothing listens on port 1). */
const UNREACHABLE_PROXY = "http://127.0.0.1:1";

/** Build id used by the sandboxes. */
export const BUILD_ID = "build-0001";

/** A provisioner config with test-friendly waits around the given steps. */
export function testConfig(
  steps: ProvisionerStep[],
  overrides: Partial<ProvisionerConfig> = {},
): ProvisionerConfig {
  return {
    protocol: PROTOCOL_VERSION,
    buildId: BUILD_ID,
    ackKey: ACK_METADATA_KEY,
    ackTimeoutSeconds: 10,
    failureShutdownSeconds: 0,
    diskSizeGb: 10,
    diskResizeTimeoutSeconds: 10,
    steps,
    ...overrides,
  };
}

/** Files a used machine has, which the provisioner must clean (paths relative to the root). */
export const MACHINE_FILES: Record<string, string> = {
  "var/log/syslog": "boot messages\n",
  "var/log/cloud-init.log": "cloud-init ran\n",
  "var/log/journal/0123/system.journal": "journal",
  "var/log/audit/audit.log": "audit",
  "var/lib/cloud/instance/user-data.txt": "#cloud-config\n",
  "var/lib/cloud/instances/build-0001/sem/config_runcmd": "done",
  "etc/ssh/ssh_host_ed25519_key": "private host key",
  "etc/ssh/ssh_host_ed25519_key.pub": "public host key",
  "etc/ssh/sshd_config": "PermitRootLogin no\n",
  "root/.bash_history": "history",
  "root/.docker/config.json": '{"auths":{}}',
  "home/chronos/.bash_history": "history",
  "etc/docker/key.json": "docker identity",
  "etc/machine-id": "0123456789abcdef0123456789abcdef\n",
  "var/lib/systemd/random-seed": "seed",
  "var/lib/systemd/credential.secret": "secret",
  "var/lib/systemd/timers/stamp-apt-daily.timer": "",
  "tmp/leftover": "x",
  "tmp/.hidden": "x",
  "var/tmp/leftover": "x",
  "var/cache/man/index.db": "x",
  "var/cache/apt/pkgcache.bin": "x",
  "var/lib/update_engine/prefs/last-check": "x",
  "mnt/stateful_partition/etc/overlay": "x",
  "etc/systemd/system/preloaded-cos-image.service": "[Unit]\n",
  "etc/systemd/system/multi-user.target.wants/preloaded-cos-image.service": "[Unit]\n",
  "etc/preloaded-cos-image/start.sh": "#!/bin/bash\n",
};

/** One command a stub was called with. */
export interface StubCall {
  command: string;
  args: string[];
}

/** What one run of the provisioner (or of the start script) produced. */
export interface RunResult {
  /** Everything written to stdout: serial port 3. */
  serial: string;
  /** Anything written to stderr, which the unit would also send to the serial port unprefixed. */
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  milliseconds: number;
}

/** Options of {@link Sandbox.create}. */
export interface SandboxOptions {
  config: ProvisionerConfig;
  /** Build context files (relative path → content), shipped under `context/` on CIDATA. */
  context?: Record<string, string>;
  /** Extra environment, mainly `STUB_*` behaviour switches. */
  env?: Record<string, string>;
  /** Mounting these devices shows these directories (device → directory). */
  mounts?: Record<string, string>;
  /**
   * Extra commands first on PATH beside the stubs (command name → file copied there), such as a
   * wrapper of a real command. Default: none.
   */
  commands?: Record<string, string>;
}

/** Options of {@link Sandbox.run}. */
export interface RunOptions {
  /** Set the acknowledgement as soon as `BuildSucceeded:` appears. Default: true. */
  acknowledge?: boolean;
  /** Send SIGTERM to the process group once the serial output satisfies this. */
  terminateWhen?: (serial: string) => boolean;
  /** The script to run instead of `<cidata>/provisioner/provisioner.sh`. */
  script?: string;
  /** Called with the serial output so far on every chunk (to play the orchestrator's part). */
  onSerial?: (serial: string) => void;
}

/**
 * A scratch machine for the real provisioner: a root directory (`PCI_ROOT`) with the files of a
 * used machine, a CIDATA directory (outside the root, as a separate disk) with the provisioner,
 * its config and the build context, and stubs for COS commands first on PATH. The stubs record
 * their calls in a file outside the root.
 */
export class Sandbox {
  readonly root: string;
  readonly cidata: string;
  readonly callsFile: string;

  private constructor(
    readonly base: string,
    private readonly metadata: FakeMetadataServer,
    private readonly options: SandboxOptions,
  ) {
    this.root = path.join(base, "root");
    this.cidata = path.join(base, "cidata");
    this.callsFile = path.join(base, "calls.log");
  }

  /** Builds the sandbox on disk. */
  static create(metadata: FakeMetadataServer, options: SandboxOptions): Sandbox {
    const sandbox = new Sandbox(
      fs.mkdtempSync(path.join(os.tmpdir(), "pci-provisioner-")),
      metadata,
      options,
    );
    sandbox.populate();
    return sandbox;
  }

  /** Runs the provisioner (or `options.script`) to its end, like the unit does. */
  run(options: RunOptions = {}): Promise<RunResult> {
    const script = options.script ?? path.join(this.cidata, "provisioner", "provisioner.sh");
    const started = Date.now();
    const child = spawn("bash", [script], {
      env: this.env(),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let serial = "";
    let stderr = "";
    let terminated = false;
    child.stdout.on("data", (chunk: Buffer) => {
      serial += chunk.toString("utf8");
      if (options.acknowledge !== false && serial.includes("BuildSucceeded:")) {
        this.metadata.setAttribute(this.options.config.ackKey, this.options.config.buildId);
      }
      options.onSerial?.(serial);
      if (!terminated && options.terminateWhen?.(serial) && child.pid !== undefined) {
        terminated = true;
        process.kill(-child.pid, "SIGTERM");
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    return new Promise((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (code, signal) =>
        resolve({ serial, stderr, code, signal, milliseconds: Date.now() - started }),
      );
    });
  }

  /** The stub calls so far, in order. */
  calls(command?: string): StubCall[] {
    if (!fs.existsSync(this.callsFile)) return [];
    return fs
      .readFileSync(this.callsFile, "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => {
        const [name, ...args] = line.split("\x1f");
        return { command: name, args: args.length === 1 && args[0] === "" ? [] : args };
      })
      .filter((call) => command === undefined || call.command === command);
  }

  /** Path of a file or directory of the machine. */
  machinePath(relative: string): string {
    return path.join(this.root, relative);
  }

  /** Machine files (symlinks not followed) whose bytes contain any of the needles. */
  filesContaining(needles: string[]): string[] {
    const found: string[] = [];
    const visit = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) visit(full);
        else if (entry.isFile()) {
          const bytes = fs.readFileSync(full);
          if (needles.some((needle) => bytes.includes(Buffer.from(needle, "utf8"))))
            found.push(full);
        }
      }
    };
    visit(this.root);
    return found;
  }

  /** Deletes the sandbox. */
  remove(): void {
    fs.rmSync(this.base, { recursive: true, force: true });
  }

  /**
   * The environment of the unit, with the sandbox's overrides and stubs. The real curl the
   * provisioner runs reaches loopback servers only: every other host goes through a proxy on a
   * loopback port nothing listens on, so that it fails at once (preloadImages probes registries).
   */
  env(): NodeJS.ProcessEnv {
    return {
      PATH: `${path.join(this.base, "bin")}:/usr/sbin:/usr/bin:/sbin:/bin`,
      http_proxy: UNREACHABLE_PROXY,
      https_proxy: UNREACHABLE_PROXY,
      no_proxy: "127.0.0.1,localhost",
      HOME: path.join(this.root, "root"),
      LANG: "C.UTF-8",
      PCI_ROOT: this.root,
      PCI_METADATA_URL: this.metadata.url,
      STUB_CALLS: this.callsFile,
      STUB_MOUNT_MAP: path.join(this.base, "mounts.map"),
      ...this.options.env,
    };
  }

  private populate(): void {
    for (const [relative, content] of Object.entries(MACHINE_FILES))
      writeFile(this.machinePath(relative), content);
    // The provisioner's files exactly as the orchestrator ships them.
    for (const entry of provisionerEntries(ASSETS_DIR)) {
      const { source } = entry;
      if ("content" in source) throw new Error(`${entry.path}: no file to copy`);
      const from = "file" in source ? source.file : source.directory;
      fs.cpSync(from, path.join(this.cidata, entry.path), { recursive: true });
    }
    for (const file of renderProvisionerConfig(this.options.config)) {
      writeFile(path.join(this.cidata, file.path), file.content);
    }
    for (const [relative, content] of Object.entries(this.options.context ?? {})) {
      // A FAT disk mounted with the default fmask shows every file as rwxr-xr-x.
      writeFile(path.join(this.cidata, "context", relative), content, 0o755);
    }
    fs.cpSync(STUBS_DIR, path.join(this.base, "bin"), { recursive: true });
    for (const [name, file] of Object.entries(this.options.commands ?? {})) {
      fs.copyFileSync(file, path.join(this.base, "bin", name));
      fs.chmodSync(path.join(this.base, "bin", name), 0o755);
    }
    const mounts = Object.entries(this.options.mounts ?? {}).map(
      ([device, dir]) => `${device}\t${dir}\n`,
    );
    fs.writeFileSync(path.join(this.base, "mounts.map"), mounts.join(""));
  }
}

function writeFile(file: string, content: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode });
}
