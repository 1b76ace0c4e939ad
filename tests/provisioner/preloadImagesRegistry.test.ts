/**
 * preloadImages' registry authentication against a real registry: Debian's distribution registry
 * on loopback (tests/support/registry.ts), anonymous and with htpasswd credentials (it challenges
 * with Basic; its token authentication needs a token server with signing certificates, which these
 * tests do not set up: the token flow is proven against the fake registry in
 * preloadImages.test.ts). The provisioner's own scripts and the real curl run in the sandbox; the
 * ctr and docker stubs, in their STUB_REGISTRY mode, fetch each manifest from the registry with
 * exactly the credentials the provisioner gave them (the hosts.toml header, the docker login), so
 * the digests recorded are the registry's and a wrong header is refused by the registry itself.
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ProvisionerStep } from "../../components/guest/protocol";
import { useLocalRegistry, type SeededImage } from "../support/registry";
import { FIXTURES_DIR } from "./harness/paths";
import { BUILD_ID, type RunResult, type Sandbox, testConfig } from "./harness/sandbox";
import { expectWellFormedRun, finalLine } from "./harness/serial";
import { useSandboxes } from "./harness/useSandboxes";

/** What a curl config, a URL or an HTTP header must escape: quotes, a backslash, a colon, spaces. */
const PASSWORD = 'r3al "regi\\stry": pass, word';
const USERNAME = "robot";
const BASIC = Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64");

/** The images.json the provisioner wrote. */
const recorded = (box: Sandbox): Array<Record<string, string>> =>
  JSON.parse(
    fs.readFileSync(box.machinePath("var/lib/preloaded-cos-image/images.json"), "utf8"),
  ) as Array<Record<string, string>>;

/** The lines of secret-scans.log (the stubs' and the curl wrapper's looks at /proc). */
const scans = (box: Sandbox): string[] => {
  const file = path.join(box.base, "secret-scans.log");
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n") : [];
};

/** A preloadImages step without the service account. */
const step = (
  images: string[],
  runtimes: Array<"containerd" | "docker">,
  credentials: Array<{ registry: string; username: string; password: string }> = [],
): ProvisionerStep => ({
  type: "preloadImages",
  images,
  runtimes,
  useServiceAccount: false,
  credentials,
});

describe("provisioner: preloadImages against a real registry (docker-registry on 127.0.0.1)", function () {
  this.timeout(120_000);
  const { sandbox } = useSandboxes();
  const open = useLocalRegistry({ busybox: false });
  const locked = useLocalRegistry({
    busybox: false,
    credentials: { username: USERNAME, password: PASSWORD },
  });
  let ubuntu: SeededImage;
  let publicApp: SeededImage;
  let privateApp: SeededImage;
  before(async () => {
    ubuntu = await open.registry.seed({ repository: "library/ubuntu", busybox: false });
    publicApp = await open.registry.seed({ repository: "team/app", tag: "1.0", busybox: false });
    privateApp = await locked.registry.seed({
      repository: "team/app",
      tag: "1.0",
      busybox: false,
      files: { "app/private.txt": "only for robot\n" },
    });
  });

  /** A sandbox whose ctr and docker stubs pull from the real registries, curl wrapped to scan. */
  const registryBox = (config: ProvisionerStep[]): Sandbox => {
    const box = sandbox({
      config: testConfig(config),
      env: { STUB_REGISTRY: "1" },
      commands: { curl: path.join(FIXTURES_DIR, "scanning-curl.sh") },
    });
    // The needles the stubs and the curl wrapper look for (a file no environment names).
    fs.writeFileSync(path.join(box.base, "secrets.txt"), [PASSWORD, BASIC].join("\n"));
    return box;
  };

  it("pulls seeded images anonymously into containerd and docker, recording the registry's digests", async () => {
    const ubuntuRef = `${open.registry.host}/library/ubuntu`;
    const box = registryBox([step([ubuntuRef, publicApp.reference], ["containerd", "docker"])]);
    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    expect(finalLine(result.serial), result.serial).to.match(/^BuildSucceeded: /);

    expect(recorded(box)).to.deep.equal([
      {
        image: ubuntuRef,
        runtime: "containerd",
        reference: ubuntu.reference,
        digest: ubuntu.digest,
      },
      { image: ubuntuRef, runtime: "docker", reference: ubuntuRef, digest: ubuntu.digest },
      {
        image: publicApp.reference,
        runtime: "containerd",
        reference: publicApp.reference,
        digest: publicApp.digest,
      },
      {
        image: publicApp.reference,
        runtime: "docker",
        reference: `${open.registry.host}/team/app`,
        digest: publicApp.digest,
      },
    ]);
    // No credentials apply: no hosts.toml, no login, no probe.
    expect(box.calls("ctr").filter((call) => call.args.includes("--hosts-dir"))).to.deep.equal([]);
    expect(box.calls("docker").filter((call) => call.args.includes("login"))).to.deep.equal([]);
    expect(box.calls("curl").filter((call) => call.args.includes("--config"))).to.deep.equal([]);
  });

  it("pulls with htpasswd credentials (basic authentication), the password on no command line, in no environment and in no output", async () => {
    const credentials = [
      { registry: locked.registry.host, username: USERNAME, password: PASSWORD },
    ];
    const box = registryBox([step([privateApp.reference], ["containerd", "docker"], credentials)]);
    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    expect(finalLine(result.serial), result.serial).to.match(/^BuildSucceeded: /);
    expect(recorded(box).map((entry) => [entry.runtime, entry.digest])).to.deep.equal([
      ["containerd", privateApp.digest],
      ["docker", privateApp.digest],
    ]);
    // The registry-bound curl runs (the anonymous probe of /v2/, then the check of the header)
    // got their URL and credentials on stdin: their arguments are options only.
    const registryCurls = box.calls("curl").filter((call) => call.args.includes("--config"));
    expect(registryCurls).to.have.length(2);
    for (const call of registryCurls) {
      expect(call.args[call.args.indexOf("--config") + 1]).to.equal("-");
      expect(call.args.some((arg) => arg.includes("://"))).to.equal(false);
    }
    // While each curl, ctr and docker ran, no process's command line or environment held the
    // password or its base64 form.
    const lines = scans(box);
    expect(lines.filter((line) => line === "scan ctr")).to.have.length(1);
    expect(lines.filter((line) => line === "scan docker")).to.have.length(2);
    expect(lines.filter((line) => line === "scan curl").length).to.be.at.least(2);
    expect(lines.filter((line) => line.startsWith("hit "))).to.deep.equal([]);
    for (const secret of [PASSWORD, BASIC]) {
      expect(result.serial).not.to.include(secret);
      expect(result.stderr).not.to.include(secret);
    }
    expect(box.filesContaining([PASSWORD, BASIC])).to.deep.equal([]);
    expect(fs.existsSync(box.machinePath("run/pci-secrets"))).to.equal(false);
    expect(fs.existsSync(box.machinePath("run/preloaded-cos-image/docker-config"))).to.equal(false);
  });

  /** A well-formed build that pulls the private image with `runtime`, given a wrong password. */
  async function runWithWrongPassword(
    runtime: "containerd" | "docker",
  ): Promise<{ box: Sandbox; result: RunResult }> {
    const credentials = [
      { registry: locked.registry.host, username: USERNAME, password: "not the password" },
    ];
    const box = registryBox([step([privateApp.reference], [runtime], credentials)]);
    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    return { box, result };
  }

  it("fails the step naming the registry and the image when the password is wrong, before ctr pulls", async () => {
    const { box, result } = await runWithWrongPassword("containerd");
    expect(finalLine(result.serial)).to.equal(
      `BuildFailed: step 1/1 preloadImages: registry ${locked.registry.host} refused the credentials for ${privateApp.reference} (HTTP 401): check the username and password given for ${locked.registry.host}`,
    );
    expect(box.calls("ctr").filter((call) => call.args.includes("pull"))).to.deep.equal([]);
    expect(result.serial).not.to.include("not the password");
    expect(fs.existsSync(box.machinePath("run/pci-secrets/containerd-hosts"))).to.equal(false);
  });

  it("fails docker's login naming the registry and the image when the password is wrong", async () => {
    const { box, result } = await runWithWrongPassword("docker");
    expect(finalLine(result.serial)).to.equal(
      `BuildFailed: step 1/1 preloadImages: docker could not log in to ${locked.registry.host} to pull ${privateApp.reference}: check the credentials given for ${locked.registry.host}`,
    );
    // docker's own refusal (the stub's, from the registry's 401) reached the serial port first.
    expect(result.serial).to.match(
      /login attempt to http:\/\/127\.0\.0\.1:\d+\/v2\/ failed with status: 401/,
    );
    expect(box.calls("docker").filter((call) => call.args.includes("pull"))).to.deep.equal([]);
    expect(fs.existsSync(box.machinePath("run/preloaded-cos-image/docker-config"))).to.equal(false);
  });

  it("fails naming the image when a registry that needs credentials is given none", async () => {
    const box = registryBox([step([privateApp.reference], ["containerd"])]);
    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    expect(finalLine(result.serial)).to.equal(
      `BuildFailed: step 1/1 preloadImages: containerd could not pull ${privateApp.reference}`,
    );
    expect(result.serial).to.include(
      `GET http://${locked.registry.host}/v2/team/app/manifests/1.0 answered HTTP 401`,
    );
  });
});
