/**
 * The test registry harness itself (tests/support/registry.ts): a real distribution registry that
 * serves `/v2/`, holds the seeded images by tag and by digest, requires its credentials when it
 * has some, and leaves nothing behind when stopped.
 */
import { expect } from "chai";
import { execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { findCommand } from "../../emulator/qemu/prerequisites";
import { eventually, rejection } from "../support/async";
import { IMAGE_MARKER_PATH, OCI_MEDIA_TYPES, sha256Digest } from "../support/ociImage";
import {
  LocalRegistry,
  REGISTRY_REALM,
  useLocalRegistry,
  type SeededImage,
} from "../support/registry";

const ACCEPT = `${OCI_MEDIA_TYPES.manifest}, application/vnd.docker.distribution.manifest.v2+json`;

/** GET `url` with the given Authorization header; the status, digest header and body. */
async function get(
  url: string,
  authorization?: string,
): Promise<{ status: number; digest: string | null; challenge: string | null; body: Buffer }> {
  const headers: Record<string, string> = { Accept: ACCEPT };
  if (authorization) headers.Authorization = authorization;
  const response = await fetch(url, { headers });
  return {
    status: response.status,
    digest: response.headers.get("docker-content-digest"),
    challenge: response.headers.get("www-authenticate"),
    body: Buffer.from(await response.arrayBuffer()),
  };
}

/** Whether a process with this pid exists. */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The names (and contents of regular files) in an uncompressed tar. */
function tarContents(tar: Buffer): Map<string, Buffer> {
  const entries = new Map<string, Buffer>();
  for (let offset = 0; offset + 512 <= tar.length;) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const name = header.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
    const size = parseInt(header.subarray(124, 136).toString("ascii").replace(/\0.*$/s, ""), 8);
    entries.set(name, tar.subarray(offset + 512, offset + 512 + size));
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

describe("test registry harness (docker-registry on 127.0.0.1)", function () {
  this.timeout(120_000);

  describe("anonymous", () => {
    const suite = useLocalRegistry();
    let ubuntu: SeededImage;
    let app: SeededImage;
    before(async () => {
      ubuntu = await suite.registry.seed({ repository: "library/ubuntu" });
      app = await suite.registry.seed({
        repository: "team/app",
        tag: "1.0",
        files: { "app/hello.txt": "hello from team/app\n" },
      });
    });

    it("serves /v2/ without credentials", async () => {
      const answer = await get(`${suite.registry.baseUrl}/v2/`);
      expect(answer.status).to.equal(200);
      expect(suite.registry.host).to.equal(`127.0.0.1:${suite.registry.port}`);
    });

    it("holds each seeded manifest by tag and by digest, with the layer's files", async () => {
      expect(ubuntu.reference).to.equal(`${suite.registry.host}/library/ubuntu:latest`);
      expect(app.reference).to.equal(`${suite.registry.host}/team/app:1.0`);
      expect(app.digestReference).to.equal(`${suite.registry.host}/team/app@${app.digest}`);
      expect(app.digest).not.to.equal(ubuntu.digest);
      for (const image of [ubuntu, app]) {
        const base = `${suite.registry.baseUrl}/v2/${image.repository}`;
        const byDigest = await get(`${base}/manifests/${image.digest}`);
        expect(byDigest.status, image.reference).to.equal(200);
        expect(sha256Digest(byDigest.body)).to.equal(image.digest);
        const byTag = await get(`${base}/manifests/${image.tag}`);
        expect(byTag.digest).to.equal(image.digest);

        const manifest = JSON.parse(byDigest.body.toString("utf8")) as {
          config: { digest: string };
          layers: Array<{ digest: string }>;
        };
        expect(manifest.config.digest).to.equal(image.configDigest);
        const layer = await get(`${base}/blobs/${manifest.layers[0].digest}`);
        expect(sha256Digest(layer.body)).to.equal(manifest.layers[0].digest);
        const files = tarContents(gunzipSync(layer.body));
        expect(files.get(IMAGE_MARKER_PATH)?.toString("utf8")).to.equal(
          `${image.repository}:${image.tag}\n`,
        );
        expect(files.get("bin/busybox")?.equals(fs.readFileSync("/bin/busybox"))).to.equal(true);
      }
      const appLayer = JSON.parse(
        (await get(`${suite.registry.baseUrl}/v2/team/app/manifests/1.0`)).body.toString("utf8"),
      ) as { layers: Array<{ digest: string }> };
      const layer = await get(
        `${suite.registry.baseUrl}/v2/team/app/blobs/${appLayer.layers[0].digest}`,
      );
      expect(tarContents(gunzipSync(layer.body)).get("app/hello.txt")?.toString("utf8")).to.equal(
        "hello from team/app\n",
      );
    });

    it("gives the same digest to the same content (seeding is deterministic)", async () => {
      const again = await suite.registry.seed({
        repository: "team/app",
        tag: "1.0-again",
        files: { "app/hello.txt": "hello from team/app\n" },
      });
      // The marker names the tag, so only the layer may differ; same request, same digest:
      const twice = await suite.registry.seed({
        repository: "team/app",
        tag: "1.0-again",
        files: { "app/hello.txt": "hello from team/app\n" },
      });
      expect(twice.digest).to.equal(again.digest);
      expect(again.digest).not.to.equal(app.digest);
    });

    it("refuses a repository name that a registry would not accept, naming it", async () => {
      const error = await rejection(suite.registry.seed({ repository: "Team/App" }));
      expect(error.message).to.contain('repository "Team/App" is not a registry repository name');
    });
  });

  describe("with credentials", () => {
    const credentials = { username: "robot", password: "s3cret pass/word+" };
    const suite = useLocalRegistry({ credentials });
    let image: SeededImage;
    before(async () => {
      image = await suite.registry.seed({ repository: "team/app", tag: "1.0" });
    });
    const basic = (password: string): string =>
      "Basic " + Buffer.from(`robot:${password}`).toString("base64");

    it("answers 401 with a Basic challenge without credentials or with a wrong password", async () => {
      const anonymous = await get(`${suite.registry.baseUrl}/v2/`);
      expect(anonymous.status).to.equal(401);
      expect(anonymous.challenge).to.equal(`Basic realm="${REGISTRY_REALM}"`);
      const wrong = await get(
        `${suite.registry.baseUrl}/v2/team/app/manifests/${image.digest}`,
        basic("wrong"),
      );
      expect(wrong.status).to.equal(401);
      const none = await get(`${suite.registry.baseUrl}/v2/team/app/manifests/${image.digest}`);
      expect(none.status).to.equal(401);
    });

    it("serves the seeded manifest to the right credentials", async () => {
      expect(suite.registry.basicAuthorization()).to.equal(basic(credentials.password));
      const answer = await get(
        `${suite.registry.baseUrl}/v2/team/app/manifests/${image.digest}`,
        basic(credentials.password),
      );
      expect(answer.status).to.equal(200);
      expect(sha256Digest(answer.body)).to.equal(image.digest);
    });

    it("serves an image that a real client copies, verifying every digest (skopeo)", async () => {
      const skopeo = await findCommand("skopeo");
      if (!skopeo) throw new Error("skopeo is missing. On Debian/Ubuntu: apt-get install skopeo");
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pci-skopeo-"));
      try {
        // Credentials in an auth file, not on skopeo's command line.
        const authFile = path.join(dir, "auth.json");
        const auth = Buffer.from(`robot:${credentials.password}`).toString("base64");
        fs.writeFileSync(authFile, JSON.stringify({ auths: { [suite.registry.host]: { auth } } }), {
          mode: 0o600,
        });
        await promisify(execFile)(skopeo, [
          "copy",
          "--src-tls-verify=false",
          "--src-authfile",
          authFile,
          `docker://${image.reference}`,
          `oci:${path.join(dir, "oci")}:copied`,
        ]);
        const index = JSON.parse(fs.readFileSync(path.join(dir, "oci", "index.json"), "utf8")) as {
          manifests: Array<{ digest: string }>;
        };
        expect(index.manifests.map((entry) => entry.digest)).to.deep.equal([image.digest]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it("keeps the password out of its log", () => {
      // The wrong password above was logged as a failure for the user, without the password.
      expect(suite.registry.log()).to.match(
        /error authenticating user .*robot.*authentication failure/,
      );
      expect(suite.registry.log()).not.to.contain(credentials.password);
    });
  });

  describe("lifecycle", () => {
    it("stops: no process, no listener and no directory left", async () => {
      const before = new Set(
        fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith("pci-registry-")),
      );
      const registry = await LocalRegistry.start({ busybox: false });
      const pid = registry.pid;
      expect(pid).to.be.a("number");
      expect(processExists(pid as number)).to.equal(true);
      const dirs = fs
        .readdirSync(os.tmpdir())
        .filter((name) => name.startsWith("pci-registry-") && !before.has(name));
      expect(dirs).to.have.length(1);
      await registry.stop();
      await registry.stop();
      expect(processExists(pid as number)).to.equal(false);
      expect(registry.running).to.equal(false);
      expect(fs.existsSync(path.join(os.tmpdir(), dirs[0]))).to.equal(false);
      expect(await rejection(fetch(`${registry.baseUrl}/v2/`))).to.be.instanceOf(Error);
    });

    it("leaves no registry behind when the test process is killed outright (SIGKILL)", async () => {
      const script = [
        `const { LocalRegistry } = require(${JSON.stringify(path.join(__dirname, "..", "support", "registry.js"))});`,
        "LocalRegistry.start({ busybox: false }).then((registry) => {",
        "  console.log(JSON.stringify({ pid: registry.pid, directory: registry.directory }));",
        "  setInterval(() => {}, 1000);",
        "});",
      ].join("\n");
      const child = spawn(process.execPath, ["-e", script], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const started = await new Promise<{ pid: number; directory: string }>((resolve, reject) => {
        let output = "";
        child.stdout.on("data", (chunk: Buffer) => {
          output += chunk.toString("utf8");
          if (output.includes("\n"))
            resolve(JSON.parse(output) as { pid: number; directory: string });
        });
        child.once("exit", (code) => reject(new Error(`the test process exited (${code}) first`)));
      });
      try {
        expect(processExists(started.pid)).to.equal(true);
        child.kill("SIGKILL");
        await eventually(() => (processExists(started.pid) ? undefined : true), 20_000);
      } finally {
        fs.rmSync(started.directory, { recursive: true, force: true });
      }
    });

    it("fails the start with the registry's log when it cannot come up", async () => {
      // A port already taken (connections to it are dropped at once).
      const blocker = net.createServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
      const { port } = blocker.address() as net.AddressInfo;
      try {
        const { message } = await rejection(LocalRegistry.start({ port, busybox: false }));
        expect(message).to.contain("the test registry exited");
        expect(message).to.contain("its log:");
        expect(message).to.contain("address already in use");
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    });

    it("names the missing host tools and the apt-get line before starting anything", async () => {
      const savedPath = process.env.PATH;
      const empty = fs.mkdtempSync(path.join(os.tmpdir(), "pci-empty-path-"));
      process.env.PATH = empty;
      let error: { message: string };
      try {
        error = await rejection(LocalRegistry.start());
      } finally {
        process.env.PATH = savedPath;
        fs.rmSync(empty, { recursive: true, force: true });
      }
      expect(error.message).to.contain(
        "missing host commands: docker-registry, htpasswd, setpriv, busybox. " +
          "On Debian/Ubuntu: apt-get install docker-registry apache2-utils util-linux busybox-static",
      );
    });
  });
});
