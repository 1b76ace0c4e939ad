/**
 * A real OCI registry on the host's loopback for the tests: Debian's CNCF distribution registry
 * (`docker-registry`), with filesystem storage in a temporary directory, optionally requiring
 * credentials (htpasswd, bcrypt), seeded with small images made from local files (ociImage.ts).
 * Test-side only: the product never imports it.
 *
 * Lifecycle: {@link LocalRegistry.start} checks the host tools first (naming the `apt-get install`
 * line), starts the registry at a free port and waits until `/v2/` answers; a registry that does
 * not come up throws with its log. {@link LocalRegistry.stop} ends it and removes its directory.
 * The registry runs under `setpriv --pdeathsig KILL`, so that even a test process killed outright
 * leaves no registry behind; {@link useLocalRegistry} registers the stop as a mocha hook, which
 * runs when tests fail too.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { requireCommands } from "../../emulator/qemu/prerequisites";
import { buildOciImage } from "./ociImage";
import { pushOciImage } from "./registryPush";

/** Credentials a registry requires. */
export interface RegistryCredentials {
  /** User name: not empty, no `:` and no line break (htpasswd's format). */
  username: string;
  /** Password: not empty, no line break (it reaches htpasswd on stdin, one line). */
  password: string;
}

/** Options of {@link LocalRegistry.start}. */
export interface LocalRegistryOptions {
  /**
   * When given, every request needs these credentials as HTTP basic authentication (the registry
   * answers 401 with `WWW-Authenticate: Basic realm="pci-test-registry"` otherwise). Default: none,
   * anonymous pulls and pushes.
   */
  credentials?: RegistryCredentials;
  /**
   * Further users the registry accepts beside {@link credentials} (which seeding uses), such as
   * `oauth2accesstoken` with a service account's token, for a registry that plays Artifact Registry.
   * Only with `credentials`. Default: none.
   */
  moreCredentials?: readonly RegistryCredentials[];
  /**
   * Whether images may be seeded with a static busybox (needs `busybox-static`, checked at start).
   * Default: true.
   */
  busybox?: boolean;
  /** How long to wait for `/v2/` to answer, in milliseconds. Default: 30 000. */
  startTimeoutMs?: number;
  /**
   * The port on 127.0.0.1 to listen on. Default: a free port chosen at start (retried on another
   * one if it was taken in between); a given port is used as it is, and a taken one fails the start.
   */
  port?: number;
}

/** An image to seed. */
export interface SeedRequest {
  /**
   * Repository, such as `team/app`, or `library/ubuntu` for an image that a guest using the
   * registry as its docker.io mirror pulls as `ubuntu`. Lower case, `/`-separated components.
   */
  repository: string;
  /** Tag. Default: `latest`. */
  tag?: string;
  /** Extra files of the image (relative path → content). Default: none. */
  files?: Readonly<Record<string, string>>;
  /** Whether the image holds a static busybox as `/bin/sh`. Default: true. */
  busybox?: boolean;
}

/** An image that {@link LocalRegistry.seed} pushed. */
export interface SeededImage {
  /** Repository, as requested (`team/app`). */
  repository: string;
  /** Tag (`1.0`). */
  tag: string;
  /**
   * `127.0.0.1:<port>/<repository>:<tag>`, the reference to pull from the host. A guest that
   * reaches the registry through a port-forward names it `<its address>/<repository>:<tag>` (or,
   * with the registry as its Docker Hub mirror, `<name>` for a `library/<name>` repository); the
   * digest is the same.
   */
  reference: string;
  /** The manifest's digest, `sha256:<hex>`: what `ctr images ls` and docker's RepoDigests show. */
  digest: string;
  /** `127.0.0.1:<port>/<repository>@<digest>`. */
  digestReference: string;
  /** The image config's digest: the image ID that `docker images` shows. */
  configDigest: string;
}

/** The realm of the basic-authentication challenge. */
export const REGISTRY_REALM = "pci-test-registry";

const REPOSITORY_RE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** Attempts at a free port: another process may take the chosen one before the registry binds. */
const PORT_ATTEMPTS = 3;

/**
 * The full paths of the harness's host commands (busybox only when `busybox` is true); rejects with
 * one error naming every missing one and the `apt-get install` line that fixes it, before anything
 * starts.
 */
export function requireRegistryTools(busybox = true): Promise<Record<string, string>> {
  const commands = ["docker-registry", "htpasswd", "setpriv", ...(busybox ? ["busybox"] : [])];
  return requireCommands(commands);
}

/** A running distribution registry on 127.0.0.1. */
export class LocalRegistry {
  /** `127.0.0.1:<port>`: the registry host part of image references. */
  readonly host: string;
  /** `http://127.0.0.1:<port>`. */
  readonly baseUrl: string;
  private stopped: Promise<void> | undefined;
  private readonly exited: Promise<void>;
  private readonly killOnExit = (): void => {
    this.child.kill("SIGKILL");
  };

  private constructor(
    /** The TCP port on 127.0.0.1 (a QEMU launcher forwards a guest port to it). */
    readonly port: number,
    /** The credentials required, if any. */
    readonly credentials: RegistryCredentials | undefined,
    /** The registry's temporary directory (config, storage, htpasswd, log); `stop()` removes it. */
    readonly directory: string,
    private readonly child: ChildProcess,
  ) {
    this.host = `127.0.0.1:${port}`;
    this.baseUrl = `http://${this.host}`;
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once("exit", () => resolve());
    });
    process.once("exit", this.killOnExit);
  }

  /** Starts a registry; throws with its log when it does not come up. */
  static async start(options: LocalRegistryOptions = {}): Promise<LocalRegistry> {
    const tools = await requireRegistryTools(options.busybox !== false);
    if (options.moreCredentials?.length && !options.credentials) {
      throw new Error("registry moreCredentials: give credentials too (seeding pushes with them)");
    }
    const users = options.credentials
      ? [options.credentials, ...(options.moreCredentials ?? [])]
      : [];
    users.forEach(validateCredentials);
    let lastError: Error | undefined;
    const attempts = options.port === undefined ? PORT_ATTEMPTS : 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pci-registry-"));
      const port = options.port ?? (await freePort());
      writeRegistryFiles(dir, port, users, tools.htpasswd);
      const log = fs.openSync(path.join(dir, "registry.log"), "a");
      const child = spawn(
        tools.setpriv,
        [
          "--pdeathsig",
          "KILL",
          "--",
          tools["docker-registry"],
          "serve",
          path.join(dir, "config.yml"),
        ],
        { stdio: ["ignore", log, log] },
      );
      fs.closeSync(log);
      const registry = new LocalRegistry(port, options.credentials, dir, child);
      try {
        await registry.waitUntilServing(options.startTimeoutMs ?? 30_000);
        return registry;
      } catch (error) {
        const text = registry.log();
        await registry.stop();
        lastError = error instanceof Error ? error : new Error(String(error));
        if (!/address already in use/.test(text)) break;
      }
    }
    throw lastError ?? new Error("the test registry did not start");
  }

  /** Builds an image from local files and pushes it; resolves to its reference and digest. */
  async seed(request: SeedRequest): Promise<SeededImage> {
    const tag = request.tag ?? "latest";
    if (!REPOSITORY_RE.test(request.repository)) {
      throw new Error(
        `seed: repository "${request.repository}" is not a registry repository name (lower case, "/"-separated, such as team/app)`,
      );
    }
    if (!TAG_RE.test(tag)) throw new Error(`seed: tag "${tag}" is not a valid tag`);
    const image = buildOciImage({
      marker: `${request.repository}:${tag}`,
      files: request.files,
      busybox: request.busybox,
    });
    const digest = await pushOciImage(
      {
        baseUrl: this.baseUrl,
        repository: request.repository,
        tag,
        authorization: this.basicAuthorization(),
      },
      image,
    );
    return {
      repository: request.repository,
      tag,
      reference: `${this.host}/${request.repository}:${tag}`,
      digest,
      digestReference: `${this.host}/${request.repository}@${digest}`,
      configDigest: image.config.digest,
    };
  }

  /** `Basic <base64 user:password>` for the required credentials, or undefined without any. */
  basicAuthorization(): string | undefined {
    if (!this.credentials) return undefined;
    const { username, password } = this.credentials;
    return "Basic " + Buffer.from(`${username}:${password}`, "utf8").toString("base64");
  }

  /** The registry's log so far (it never holds a password: the registry logs user names only). */
  log(): string {
    try {
      return fs.readFileSync(path.join(this.directory, "registry.log"), "utf8");
    } catch {
      return "";
    }
  }

  /** Whether the registry process is still running. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The registry's process id (to check that nothing is left behind). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Stops the registry (SIGTERM, SIGKILL after 10 s), waits for it to exit and removes its
   * directory. Safe to call more than once.
   */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      if (this.running) {
        this.child.kill("SIGTERM");
        const killer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
        await this.exited;
        clearTimeout(killer);
      }
      process.removeListener("exit", this.killOnExit);
      fs.rmSync(this.directory, { recursive: true, force: true });
    })();
    return this.stopped;
  }

  private async waitUntilServing(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) {
        throw new Error(
          `the test registry exited (${this.child.exitCode ?? this.child.signalCode}) before serving ${this.baseUrl}/v2/; its log:\n${this.log()}`,
        );
      }
      try {
        const response = await fetch(`${this.baseUrl}/v2/`, { signal: AbortSignal.timeout(2000) });
        await response.arrayBuffer();
        // 200 when anonymous, 401 with a challenge when credentials are required: serving either way.
        if (response.status === 200 || response.status === 401) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error(
          `the test registry did not answer ${this.baseUrl}/v2/ within ${Math.round(timeoutMs / 1000)} s; its log:\n${this.log()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** What {@link useLocalRegistry} gives a suite. */
export interface LocalRegistrySuite {
  /** The suite's registry (started before its first test). */
  readonly registry: LocalRegistry;
}

/**
 * Mocha hooks of the calling `describe`: a registry started before its first test (failing the
 * suite with the registry's log when it does not come up) and stopped after its last, also when
 * tests fail.
 */
export function useLocalRegistry(options: LocalRegistryOptions = {}): LocalRegistrySuite {
  let started: LocalRegistry | undefined;
  before(async function () {
    this.timeout((options.startTimeoutMs ?? 30_000) * PORT_ATTEMPTS + 10_000);
    started = await LocalRegistry.start(options);
  });
  after(() => started?.stop());
  return {
    get registry(): LocalRegistry {
      if (!started) throw new Error("the test registry is used before its suite started it");
      return started;
    },
  };
}

function validateCredentials({ username, password }: RegistryCredentials): void {
  if (username === "" || /[:\r\n]/.test(username)) {
    throw new Error(
      `registry credentials: username "${username}" must be non-empty without ":" or line breaks`,
    );
  }
  if (password === "" || /[\r\n]/.test(password)) {
    throw new Error("registry credentials: the password must be non-empty without line breaks");
  }
}

/** The config file, storage directory and (with users) htpasswd file of a registry. */
function writeRegistryFiles(
  dir: string,
  port: number,
  users: readonly RegistryCredentials[],
  htpasswd: string,
): void {
  const storage = path.join(dir, "storage");
  fs.mkdirSync(storage);
  const lines = [
    "version: 0.1",
    "log:",
    "  level: info",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${JSON.stringify(storage)}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    // A fixed secret silences the registry's warning; uploads go to this one instance anyway.
    "  secret: pci-test-registry",
  ];
  if (users.length > 0) {
    const file = path.join(dir, "htpasswd");
    const entries = users.map((user) => {
      // -i reads the password from stdin, so it is on no command line; cost 4 (the least) keeps
      // the registry's check of every request cheap on a shared machine.
      const result = spawnSync(htpasswd, ["-B", "-C", "4", "-n", "-i", user.username], {
        input: user.password + "\n",
        encoding: "utf8",
      });
      if (result.status !== 0) {
        throw new Error(`htpasswd could not hash the test password: ${result.stderr}`);
      }
      return result.stdout.trim() + "\n";
    });
    fs.writeFileSync(file, entries.join(""), { mode: 0o600 });
    lines.push(
      "auth:",
      "  htpasswd:",
      `    realm: ${REGISTRY_REALM}`,
      `    path: ${JSON.stringify(file)}`,
    );
  }
  fs.writeFileSync(path.join(dir, "config.yml"), lines.join("\n") + "\n");
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
