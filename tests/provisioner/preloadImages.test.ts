import { expect } from "chai";
import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import type { ProvisionerStep } from "../../components/guest/protocol";
import { FakeRegistry, type RegistryFlavor } from "./harness/fakeRegistry";
import { ASSETS_DIR } from "./harness/paths";
import { BUILD_ID, type Sandbox, testConfig } from "./harness/sandbox";
import { expectWellFormedRun, finalLine } from "./harness/serial";
import { useSandboxes } from "./harness/useSandboxes";

const PASSWORD = "ghcr-pa55word-with,comma";

const preload = (
  overrides: Partial<Extract<ProvisionerStep, { type: "preloadImages" }>> = {},
): ProvisionerStep => ({
  type: "preloadImages",
  images: [
    "nginx:1.27",
    "gcr.io/my-project/app@sha256:" + "a".repeat(64),
    "ghcr.io/org/private:v1",
  ],
  runtimes: ["containerd", "docker"],
  useServiceAccount: true,
  credentials: [{ registry: "ghcr.io", username: "robot", password: PASSWORD }],
  ...overrides,
});

/** Where the provisioner puts the hosts directory of a credentialed ctr pull. */
/** How the provisioner starts a containerd pull (GKE's namespace); a credentialed one adds --hosts-dir. */
const CTR_PULL = ["--namespace", "k8s.io", "images", "pull"];
const HOSTS_DIR = (box: Sandbox): string => box.machinePath("run/pci-secrets/containerd-hosts");

/** The hosts.toml that gives containerd an Authorization header for one registry. */
const hostsToml = (server: string, authorization: string, scheme = "https"): string =>
  `server = "${scheme}://${server}"\ncapabilities = ["pull", "resolve"]\n\n[header]\n  Authorization = "${authorization}"\n\n[host]\n`;

/** A password with what a curl config or a URL must escape: quotes, a backslash, a colon, spaces. */
const TOKEN_FLOW_PASSWORD = 'p"a\\ss:w,o rd';

/** The hosts.toml files the ctr stub found in its --hosts-dir, with their modes (parent, dir, file). */
const hostsFilesSeen = (box: Sandbox): Array<{ host: string; modes: string[]; content: string }> =>
  box.calls("ctr:hosts.toml").map(({ args: [host, parent, dir, file, content] }) => ({
    host,
    modes: [parent, dir, file],
    content: Buffer.from(content, "base64").toString("utf8"),
  }));

/** The digest the ctr stub reports for a reference. */
const stubDigest = (reference: string): string =>
  "sha256:" + createHash("sha256").update(reference, "utf8").digest("hex");

describe("provisioner: preloadImages", function () {
  this.timeout(30_000);
  const { metadata, sandbox } = useSandboxes();
  const registries: FakeRegistry[] = [];
  afterEach(() => Promise.all(registries.splice(0).map((registry) => registry.stop())));

  /** A started fake registry, stopped after the test. */
  const fakeRegistry = async (
    flavor: RegistryFlavor,
    secrets: string[] = [],
  ): Promise<FakeRegistry> => {
    const registry = new FakeRegistry(flavor, `robot:${TOKEN_FLOW_PASSWORD}`, secrets);
    await registry.start();
    registries.push(registry);
    return registry;
  };

  /** A containerd-only step pulling one image of `registry` with the robot's credentials. */
  const registryStep = (registry: FakeRegistry): ProvisionerStep =>
    preload({
      images: [`${registry.host}/org/private:v1`],
      runtimes: ["containerd"],
      useServiceAccount: false,
      credentials: [{ registry: registry.host, username: "robot", password: TOKEN_FLOW_PASSWORD }],
    });

  it("pulls into containerd's k8s.io namespace and docker, with the right credentials, and records digests", async () => {
    const box = sandbox({ config: testConfig([preload()]) });
    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    expect(finalLine(result.serial)).to.match(/^BuildSucceeded: /);

    const pulls = box.calls("ctr").filter((call) => call.args.includes("pull"));
    expect(pulls.map((call) => call.args)).to.deep.equal([
      [...CTR_PULL, "docker.io/library/nginx:1.27"],
      [
        ...CTR_PULL,
        "--hosts-dir",
        HOSTS_DIR(box),
        "gcr.io/my-project/app@sha256:" + "a".repeat(64),
      ],
      [...CTR_PULL, "--hosts-dir", HOSTS_DIR(box), "ghcr.io/org/private:v1"],
    ]);
    // What ctr read: one hosts.toml per pull, for that registry only, 0600 in 0700 directories.
    expect(hostsFilesSeen(box)).to.deep.equal([
      {
        host: "gcr.io",
        modes: ["700", "700", "600"],
        content: hostsToml("gcr.io", `Bearer ${metadata.token}`),
      },
      {
        host: "ghcr.io",
        modes: ["700", "700", "600"],
        content: hostsToml(
          "ghcr.io",
          `Basic ${Buffer.from(`robot:${PASSWORD}`).toString("base64")}`,
        ),
      },
    ]);
    const docker = box
      .calls("docker")
      .map((call) => call.args.filter((arg) => !arg.startsWith("/")));
    expect(docker.filter((args) => args.includes("login"))).to.deep.equal([
      ["--config", "login", "--username", "oauth2accesstoken", "--password-stdin", "gcr.io"],
      ["--config", "login", "--username", "robot", "--password-stdin", "ghcr.io"],
    ]);
    expect(
      docker.filter((args) => args.includes("pull")).map((args) => args[args.length - 1]),
    ).to.deep.equal([
      "nginx:1.27",
      "gcr.io/my-project/app@sha256:" + "a".repeat(64),
      "ghcr.io/org/private:v1",
    ]);
    const tokenRequests = metadata.requests.filter((request) => request.path.endsWith("/token"));
    expect(tokenRequests.length).to.be.at.least(1);
    expect(tokenRequests.every((request) => request.flavored)).to.equal(true);

    const manifest = JSON.parse(
      fs.readFileSync(box.machinePath("var/lib/preloaded-cos-image/images.json"), "utf8"),
    ) as Array<Record<string, string>>;
    expect(manifest).to.have.length(6);
    expect(manifest[0]).to.deep.equal({
      image: "nginx:1.27",
      runtime: "containerd",
      reference: "docker.io/library/nginx:1.27",
      digest: stubDigest("docker.io/library/nginx:1.27"),
    });
    expect(manifest[1]).to.include({ image: "nginx:1.27", runtime: "docker", reference: "nginx" });
    expect(manifest[1].digest).to.match(/^sha256:[0-9a-f]{64}$/);

    const secrets = [PASSWORD, metadata.token, Buffer.from(`robot:${PASSWORD}`).toString("base64")];
    for (const secret of secrets) expect(result.serial).not.to.include(secret);
    expect(box.filesContaining(secrets)).to.deep.equal([]);
    expect(fs.existsSync(box.machinePath("run/preloaded-cos-image/docker-config"))).to.equal(false);
    expect(result.serial).not.to.include("progress table");
  });

  it("keeps every password and token off all command lines and environments while pulling, and removes the credential files", async () => {
    const box = sandbox({
      config: testConfig([preload({ images: ["gcr.io/p/a:1", "ghcr.io/org/private:v1"] })]),
    });
    const base64 = Buffer.from(`robot:${PASSWORD}`).toString("base64");
    // The stubs read the needles from this file (outside the root; no environment names them).
    fs.writeFileSync(
      path.join(box.base, "secrets.txt"),
      [PASSWORD, metadata.token, base64].join("\n"),
    );
    const scans = path.join(box.base, "secret-scans.log");
    const result = await box.run();
    expect(finalLine(result.serial)).to.match(/^BuildSucceeded: /);
    const lines = fs.readFileSync(scans, "utf8").trim().split("\n");
    // Two logins and two pulls in docker, two pulls in containerd: each looked while it ran.
    expect(lines.filter((line) => line === "scan ctr")).to.have.length(2);
    expect(lines.filter((line) => line === "scan docker")).to.have.length(4);
    expect(lines.filter((line) => line.startsWith("hit "))).to.deep.equal([]);
    expect(hostsFilesSeen(box).map((file) => file.host)).to.deep.equal(["gcr.io", "ghcr.io"]);
    expect(fs.existsSync(box.machinePath("run/pci-secrets"))).to.equal(false);
    expect(fs.existsSync(box.machinePath("run/preloaded-cos-image/docker-config"))).to.equal(false);
    expect(box.filesContaining([PASSWORD, metadata.token, base64])).to.deep.equal([]);
  });

  it("exchanges the credentials for a pull token when the registry challenges with a token realm, keeping the password off every command line (curl's included)", async () => {
    const basic = Buffer.from(`robot:${TOKEN_FLOW_PASSWORD}`).toString("base64");
    const registry = await fakeRegistry("token", [TOKEN_FLOW_PASSWORD, basic]);
    const box = sandbox({ config: testConfig([registryStep(registry)]) });
    fs.writeFileSync(path.join(box.base, "secrets.txt"), [TOKEN_FLOW_PASSWORD, basic].join("\n"));
    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    expect(finalLine(result.serial)).to.match(/^BuildSucceeded: /);

    // The probe went without credentials; the token request carried them as basic authentication,
    // for the image's repository and the challenge's service.
    expect(registry.requests.map((request) => request.path)).to.deep.equal(["/v2/", "/token"]);
    expect(registry.requests[0].authorization).to.equal(undefined);
    const [tokenRequest] = registry.requests.slice(1);
    expect(tokenRequest.authorization).to.equal(`Basic ${basic}`);
    expect(Object.fromEntries(tokenRequest.query)).to.deep.equal({
      service: registry.service,
      scope: "repository:org/private:pull",
    });
    // containerd got the issued token, for the registry's plain http server.
    expect(hostsFilesSeen(box)).to.deep.equal([
      {
        host: registry.host,
        modes: ["700", "700", "600"],
        content: hostsToml(registry.host, `Bearer ${registry.token}`, "http"),
      },
    ]);

    // No process showed the password, while curl talked to the registry or while ctr pulled.
    expect(registry.scans).to.equal(2);
    expect(registry.hits).to.deep.equal([]);
    const scans = fs
      .readFileSync(path.join(box.base, "secret-scans.log"), "utf8")
      .trim()
      .split("\n");
    expect(scans).to.deep.equal(["scan ctr"]);
    const secrets = [TOKEN_FLOW_PASSWORD, basic, registry.token];
    for (const secret of secrets) expect(result.serial).not.to.include(secret);
    expect(box.filesContaining(secrets)).to.deep.equal([]);
    expect(fs.existsSync(box.machinePath("run/pci-secrets"))).to.equal(false);
  });

  it("keeps the Basic header for a registry that challenges with Basic, checks it at /v2/, and asks no token", async () => {
    const registry = await fakeRegistry("basic");
    const box = sandbox({ config: testConfig([registryStep(registry)]) });
    const result = await box.run();
    expect(finalLine(result.serial)).to.match(/^BuildSucceeded: /);
    const basic = Buffer.from(`robot:${TOKEN_FLOW_PASSWORD}`).toString("base64");
    expect(registry.requests.map((request) => [request.path, request.authorization])).to.deep.equal(
      [
        ["/v2/", undefined],
        ["/v2/", `Basic ${basic}`],
      ],
    );
    expect(hostsFilesSeen(box).map((file) => file.content)).to.deep.equal([
      hostsToml(registry.host, `Basic ${basic}`, "http"),
    ]);
  });

  it("fails the step naming the registry when its token service refuses the credentials, and pulls nothing", async () => {
    const registry = await fakeRegistry("refusing");
    const box = sandbox({ config: testConfig([registryStep(registry)]) });
    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    expect(finalLine(result.serial)).to.equal(
      `BuildFailed: step 1/1 preloadImages: registry ${registry.host}: the token service ${registry.realm} refused the credentials (HTTP 401), for ${registry.host}/org/private:v1`,
    );
    expect(registry.requests.map((request) => request.path)).to.deep.equal(["/v2/", "/token"]);
    expect(box.calls("ctr").filter((call) => call.args.includes("pull"))).to.deep.equal([]);
    expect(result.serial).not.to.include(TOKEN_FLOW_PASSWORD);
    expect(fs.existsSync(box.machinePath("run/pci-secrets/containerd-hosts"))).to.equal(false);
  });

  it("exchanges the service account token at a token realm (as oauth2accesstoken), and sends it as it is otherwise", async () => {
    const accessToken = "ya29.service-account/token";
    /** registry_authorization for `host`, the way pull_with_containerd calls it for gcr.io. */
    const authorization = async (host: string): Promise<string> => {
      const script = [
        "set -euo pipefail; ROOT=/nonexistent RUN_DIR=/nonexistent CURRENT_LABEL=test",
        'status() { :; }; one_line() { printf "%s" "$1"; }; fail() { printf "failed: %s" "$2"; exit 1; }',
        'source "$0/lib/secrets.sh"',
        'source "$0/steps/preload-images/image-ref.sh"',
        'source "$0/steps/preload-images/registry-auth.sh"',
        "SERVICE_ACCOUNT_TOKEN=$(cat)",
        'registry_authorization value "$1" org/app oauth2accesstoken "$SERVICE_ACCOUNT_TOKEN"',
        'printf "%s" "$value"',
      ].join("\n");
      const child = promisify(execFile)("bash", ["-c", script, ASSETS_DIR, host], {
        env: { PATH: process.env.PATH, no_proxy: "127.0.0.1" },
      });
      child.child.stdin?.end(accessToken);
      return (await child).stdout;
    };
    const tokenRegistry = new FakeRegistry("token", `oauth2accesstoken:${accessToken}`);
    const basicRegistry = new FakeRegistry("basic", "");
    for (const registry of [tokenRegistry, basicRegistry]) {
      await registry.start();
      registries.push(registry);
    }
    expect(await authorization(tokenRegistry.host)).to.equal(`Bearer ${tokenRegistry.token}`);
    expect(tokenRegistry.requests[1].authorization).to.equal(
      "Basic " + Buffer.from(`oauth2accesstoken:${accessToken}`).toString("base64"),
    );
    expect(await authorization(basicRegistry.host)).to.equal(`Bearer ${accessToken}`);
  });

  it("pulls anonymously when no credentials apply, and keeps the manifest across steps", async () => {
    const box = sandbox({
      config: testConfig([
        preload({
          images: ["busybox"],
          runtimes: ["containerd"],
          credentials: [],
          useServiceAccount: false,
        }),
        preload({
          images: ["gcr.io/p/a:1"],
          runtimes: ["containerd"],
          credentials: [],
          useServiceAccount: false,
        }),
      ]),
    });
    const result = await box.run();
    expect(finalLine(result.serial)).to.match(/^BuildSucceeded: /);
    expect(box.calls("ctr").filter((call) => call.args.includes("--user"))).to.deep.equal([]);
    expect(box.calls("ctr").filter((call) => call.args.includes("--hosts-dir"))).to.deep.equal([]);
    expect(box.calls("docker")).to.deep.equal([]);
    const manifest = JSON.parse(
      fs.readFileSync(box.machinePath("var/lib/preloaded-cos-image/images.json"), "utf8"),
    ) as Array<{ reference: string }>;
    expect(manifest.map((entry) => entry.reference)).to.deep.equal([
      "docker.io/library/busybox:latest",
      "gcr.io/p/a:1",
    ]);
  });

  it("fails the step naming the image when a pull fails, and removes the registry logins", async () => {
    const box = sandbox({
      config: testConfig([preload({ images: ["ghcr.io/org/private:v1"], runtimes: ["docker"] })]),
      env: { STUB_PULL_EXIT: "1" },
    });
    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    expect(finalLine(result.serial)).to.equal(
      "BuildFailed: step 1/1 preloadImages: docker could not pull ghcr.io/org/private:v1",
    );
    expect(fs.existsSync(box.machinePath("run/preloaded-cos-image/docker-config"))).to.equal(false);
  });

  it("fails clearly when the runtime is not installed", async () => {
    const box = sandbox({ config: testConfig([preload({ runtimes: ["containerd"] })]) });
    fs.rmSync(path.join(box.base, "bin", "ctr"));
    const result = await box.run();
    expect(finalLine(result.serial)).to.equal(
      "BuildFailed: step 1/1 preloadImages: ctr is not installed on this machine, so images cannot be pulled into containerd",
    );
  });

  it("normalizes references the way docker does, for ctr", () => {
    const cases: Record<string, string> = {
      nginx: "docker.io/library/nginx:latest",
      "nginx:1.27": "docker.io/library/nginx:1.27",
      "user/app": "docker.io/user/app:latest",
      "index.docker.io/user/app:2": "docker.io/user/app:2",
      "localhost/app": "localhost/app:latest",
      "registry.example.com:5000/team/app": "registry.example.com:5000/team/app:latest",
      "us-docker.pkg.dev/p/r/app@sha256:abc": "us-docker.pkg.dev/p/r/app@sha256:abc",
    };
    for (const [reference, expected] of Object.entries(cases)) {
      const normalized = execFileSync(
        "bash",
        [
          "-c",
          'source "$0/steps/preload-images/image-ref.sh"; normalize_image_ref "$1"',
          ASSETS_DIR,
          reference,
        ],
        { encoding: "utf8" },
      );
      expect(normalized, reference).to.equal(expected);
    }
  });
});
