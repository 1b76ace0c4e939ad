/**
 * Containers on the COS-shaped guest, from real registries, in one build:
 * - `preloadImages` pulls an image anonymously and one with credentials given as a secret input,
 *   into containerd (namespace `k8s.io`) and into docker, over TLS; the digests the build records in
 *   its outputs are the registries' own;
 * - a `runScript` step pulls a private image from a registry that plays Artifact Registry
 *   (`us-docker.pkg.dev`) with the VM's service account, through docker's GCR credential helper as
 *   COS Customizer sets it up;
 * - the password, the Basic header made of it, and the service account's token appear nowhere: not
 *   in the state, the progress, any serial port, any process's command line or environment during
 *   the build, nor in any byte of the image;
 * - a VM booted from the image, with both registries stopped, lists the images with `docker images`
 *   and `ctr -n k8s.io images ls`.
 *
 * The registries speak TLS with a CA made for this run, because the provisioner (rightly) uses plain
 * http only for a registry on the guest's own loopback. The guest is told to trust that CA the way a
 * COS user with a private CA does, in a runScript step: COS's /etc is writable, so the CA goes to
 * /etc/docker/certs.d/<host>/ca.crt (dockerd), /etc/containerd/certs.d/<host>/ca.crt (containerd's
 * CRI pulls) and the system bundle /etc/ssl/certs/ca-certificates.crt (curl, and Go clients such as
 * `ctr`, which reads no certs.d without --hosts-dir); /etc is a tmpfs on COS, so none of it reaches
 * the image, which the verification VM checks too.
 */
import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import type { ImageBuildOutputs } from "../../components/provider/inputs";
import { projectNumber } from "../../emulator/compute/ids";
import { REGISTRY_MIRROR } from "../../emulator/qemu";
import { serviceAccountToken } from "../../emulator/storage/access";
import { expectNoTemporaries } from "../orchestration/buildHarness";
import { LocalRegistry, type SeededImage } from "../support/registry";
import { makeTestCa, type TestCa } from "../support/testCa";
import { startTlsFront, type TlsFront } from "../support/tlsFront";
import { ext4ReadFile, ext4Stat } from "./helpers/ext4Image";
import { requireE2ePrerequisites } from "./helpers/hostTools";
import {
  E2E_PROJECT,
  buildThroughProvider,
  e2eBuildInputs,
  programWithContext,
  startQemuCloud,
  type QemuCloud,
} from "./helpers/qemuCloud";
import { fileContainsAny, filesContainingAny } from "./helpers/secretScan";
import { verificationScript, verifyOnNewVm } from "./helpers/verificationVm";

/** Guest ports of the two registries at the mirror's address (see `registryForwards`). */
const ANONYMOUS_PORT = 5001;
const PRIVATE_PORT = 5002;
const REGISTRY_ADDRESS = REGISTRY_MIRROR.address;
/** The Artifact Registry host the private registry also plays, at port 443. */
const ARTIFACT_REGISTRY = "us-docker.pkg.dev";
const ROBOT = "robot";
/** Made per run, so that no fixed string could pass the "appears nowhere" checks by luck. */
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;
/** What the emulator's metadata server gives the build VM (default account, default scope). */
const SERVICE_ACCOUNT_TOKEN = serviceAccountToken({
  email: `${projectNumber(E2E_PROJECT)}-compute@developer.gserviceaccount.com`,
  scopes: ["https://www.googleapis.com/auth/cloud-platform"],
});

const TRUST_CA_SH = `#!/bin/bash
# A COS user's trust of a private CA, for this build only (COS's /etc forgets it at reboot).
set -euo pipefail
for host in $REGISTRY_HOSTS; do
  install -D -m 0644 ca.crt "/etc/docker/certs.d/$host/ca.crt"
  install -D -m 0644 ca.crt "/etc/containerd/certs.d/$host/ca.crt"
done
cat ca.crt >>/etc/ssl/certs/ca-certificates.crt
# STAND-IN, not what a COS user does: there is no DNS for ${ARTIFACT_REGISTRY} here, so it resolves
# to the address where the launcher forwards the test registry that plays it.
echo "${REGISTRY_ADDRESS} ${ARTIFACT_REGISTRY}" >>/etc/hosts
echo "trusted the test CA for $REGISTRY_HOSTS"
`;

/**
 * Watches every process's command line and environment until told to stop, keeping each distinct
 * line once, in a file on STATE that the test reads from the image. Bash builtins only (mapfile,
 * printf): forking per process and sample would slow the emulated guest to a crawl.
 */
const WATCH_SH = `#!/bin/bash
set -uo pipefail
out=/var/lib/pci-e2e/processes.txt
mkdir -p /var/lib/pci-e2e
declare -A seen=()
samples=0
while [[ ! -e /run/pci-e2e-watch-stop ]]; do
  for dir in /proc/[0-9]*; do
    [[ $dir == "/proc/$$" ]] && continue
    for file in cmdline environ; do
      mapfile -d '' -t words <"$dir/$file" 2>/dev/null || continue
      ((\${#words[@]})) || continue
      if [[ $file == cmdline ]]; then lines=("cmdline: \${words[*]}"); else lines=("\${words[@]/#/environ: }"); fi
      for line in "\${lines[@]}"; do
        [[ -n \${seen[$line]+x} ]] && continue
        seen[$line]=1
        printf '%s\\n' "$line" >>"$out"
      done
    done
  done
  samples=$((samples + 1))
  sleep 0.3
done
echo "samples: $samples" >>"$out"
touch /run/pci-e2e-watch-done
`;

const START_WATCH_SH = `#!/bin/bash
set -euo pipefail
# Detached, its output nowhere: the step ends while the watcher runs on through the next steps.
setsid bash "$PWD/watch.sh" </dev/null >/dev/null 2>&1 &
echo "watching processes (pid $!)"
`;

const STOP_WATCH_SH = `#!/bin/bash
set -euo pipefail
touch /run/pci-e2e-watch-stop
for _ in $(seq 1 120); do [[ -e /run/pci-e2e-watch-done ]] && break; sleep 0.5; done
[[ -e /run/pci-e2e-watch-done ]] || { echo "the process watcher did not stop" >&2; exit 1; }
echo "process watcher: $(wc -l </var/lib/pci-e2e/processes.txt) distinct lines, $(tail -n 1 /var/lib/pci-e2e/processes.txt)"
`;

const SCRIPT_PULL_SH = `#!/bin/bash
# A script pulling a private image from Artifact Registry as the VM's service account: DOCKER_CONFIG
# (set by the runScript step) sends ${ARTIFACT_REGISTRY} to docker-credential-gcr.
set -euo pipefail
image=${ARTIFACT_REGISTRY}/${E2E_PROJECT}/tools/probe:1.0
docker pull --quiet "$image" >/dev/null
echo "script pulled $(docker image inspect --format '{{index .RepoDigests 0}}' "$image")"
docker image rm --force "$image" >/dev/null
`;

interface ContainersBuild {
  cloud: QemuCloud;
  outs: ImageBuildOutputs;
  imageFile: string;
  anonymous: SeededImage;
  privateImage: SeededImage;
  scriptImage: SeededImage;
  /** Where the machines' serial captures are. */
  workRoot: string;
}

describe("e2e: preloadImages and a script's private pull from TLS registries, on the COS-shaped guest", function () {
  let build: ContainersBuild | undefined;
  let failure: Error | undefined;
  const cleanups: Array<() => Promise<unknown>> = [];
  let registries: LocalRegistry[] = [];
  let fronts: TlsFront[] = [];

  /** Guest references of the seeded images. */
  const anonymousRef = (image: SeededImage): string =>
    `${REGISTRY_ADDRESS}:${ANONYMOUS_PORT}/${image.repository}:${image.tag}`;
  const privateRef = (image: SeededImage): string =>
    `${REGISTRY_ADDRESS}:${PRIVATE_PORT}/${image.repository}:${image.tag}`;

  before(async function () {
    await requireE2ePrerequisites(this);
    const started = Date.now();
    const ca: TestCa = await makeTestCa({ dns: [ARTIFACT_REGISTRY], ip: [REGISTRY_ADDRESS] });
    cleanups.push(() => ca.remove());
    const anonymousRegistry = await LocalRegistry.start();
    const privateRegistry = await LocalRegistry.start({
      credentials: { username: ROBOT, password: PASSWORD },
      moreCredentials: [{ username: "oauth2accesstoken", password: SERVICE_ACCOUNT_TOKEN }],
    });
    registries = [anonymousRegistry, privateRegistry];
    const anonymous = await anonymousRegistry.seed({ repository: "team/base", tag: "1.0" });
    const privateImage = await privateRegistry.seed({ repository: "team/app", tag: "2.0" });
    const scriptImage = await privateRegistry.seed({
      repository: `${E2E_PROJECT}/tools/probe`,
      tag: "1.0",
    });
    const front = (registry: LocalRegistry): Promise<TlsFront> =>
      startTlsFront({
        targetPort: registry.port,
        certificate: ca.serverCertificate,
        key: ca.serverKey,
      });
    fronts = [await front(anonymousRegistry), await front(privateRegistry)];
    const [anonymousFront, privateFront] = fronts as [TlsFront, TlsFront];
    const workRoot = await fs.mkdtemp(path.join(os.tmpdir(), "pci-e2e-containers-vms-"));
    cleanups.push(() => fs.rm(workRoot, { recursive: true, force: true }));
    const cloud = await startQemuCloud({
      registryForwards: [
        { guestPort: ANONYMOUS_PORT, hostPort: anonymousFront.port },
        { guestPort: PRIVATE_PORT, hostPort: privateFront.port },
        { guestPort: 443, hostPort: privateFront.port },
      ],
      workRoot,
      keepWorkDirs: true,
    });
    cleanups.push(() => cloud.close());
    const program = await programWithContext({
      "ca.crt": ca.caCertificate,
      "trust-ca.sh": TRUST_CA_SH,
      "watch.sh": WATCH_SH,
      "start-watch.sh": START_WATCH_SH,
      "stop-watch.sh": STOP_WATCH_SH,
      "script-pull.sh": SCRIPT_PULL_SH,
    });
    cleanups.push(() => program.remove());
    const privateHost = `${REGISTRY_ADDRESS}:${PRIVATE_PORT}`;
    const inputs = e2eBuildInputs(cloud, program.programDir, "containers", {
      steps: [
        {
          runScript: {
            script: "trust-ca.sh",
            env: {
              REGISTRY_HOSTS: `${REGISTRY_ADDRESS}:${ANONYMOUS_PORT} ${privateHost} ${ARTIFACT_REGISTRY}`,
            },
          },
        },
        { runScript: { script: "start-watch.sh" } },
        { runScript: { script: "script-pull.sh" } },
        {
          preloadImages: {
            images: [anonymousRef(anonymous), privateRef(privateImage)],
            runtime: "both",
            // What the component passes on for a secret credential: the registry stays in the
            // arguments, the username and password travel as the resource's secret input.
            credentials: [{ registry: privateHost } as never],
          },
        },
        { runScript: { script: "stop-watch.sh" } },
      ],
    });
    inputs.secrets = {
      env: {},
      credentials: { "3": [{ username: ROBOT, password: PASSWORD }] },
    };
    try {
      const { outs } = await buildThroughProvider(inputs);
      const imageFile = cloud.emulator.imageFile(E2E_PROJECT, outs.imageName) ?? "";
      build = { cloud, outs, imageFile, anonymous, privateImage, scriptImage, workRoot };
      console.log(`      [e2e] output image file: ${imageFile}`);
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
    }
    console.log(
      `      [e2e timing] containers build with registries: ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  });

  after(async () => {
    await Promise.all(fronts.map((front) => front.close()));
    await Promise.all(registries.map((registry) => registry.stop()));
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const built = (): ContainersBuild => {
    if (!build)
      throw failure ?? new Error("the suite's build did not run (its before hook failed)");
    return build;
  };

  it("recorded in its outputs the registries' own digests, for containerd and for docker", () => {
    const { outs, anonymous, privateImage } = built();
    const expected = [anonymous, privateImage].flatMap((image, index) => {
      const reference = index === 0 ? anonymousRef(image) : privateRef(image);
      return (["containerd", "docker"] as const).map((runtime) => ({
        image: reference,
        runtime,
        digest: image.digest,
      }));
    });
    expect(outs.preloadedImages).to.deep.equal(expected);
  });

  it("let the script pull from Artifact Registry as the service account, through docker-credential-gcr", () => {
    const { cloud, scriptImage } = built();
    const line = cloud.progress.find((text) => text.includes("script pulled "));
    expect(line, "the script's pull line").to.not.equal(undefined);
    expect(line).to.include(`${ARTIFACT_REGISTRY}/${scriptImage.repository}@${scriptImage.digest}`);
  });

  it("kept the password, its Basic header and the token out of the state, the progress and every serial port", async () => {
    const { cloud, outs, workRoot } = built();
    const secrets = secretForms();
    const state = JSON.stringify(outs);
    const progress = cloud.progress.join("\n");
    for (const secret of secrets) {
      expect(state.includes(secret), "a secret in the state").to.equal(false);
      expect(progress.includes(secret), "a secret in the progress").to.equal(false);
    }
    const serialFiles = (await fs.readdir(workRoot, { recursive: true })).filter((name) =>
      String(name).endsWith(".log"),
    );
    expect(serialFiles.length, "serial captures of the build VM").to.be.greaterThan(3);
    expect(await filesContainingAny(workRoot, secrets), "files with a secret").to.deep.equal([]);
  });

  it("showed the password to no process: command lines and environments watched during the pulls", async () => {
    const { imageFile } = built();
    const seen = await ext4ReadFile(imageFile, "/var/lib/pci-e2e/processes.txt");
    // The watcher saw the pulls themselves, so it was watching when a secret could have shown.
    expect(seen).to.match(/^cmdline: ctr --namespace k8s\.io images pull .*team\/app:2\.0$/m);
    expect(seen).to.match(/^cmdline: docker --config \S+ (login|pull) /m);
    for (const secret of secretForms()) expect(seen.includes(secret)).to.equal(false);
  });

  it("left no secret in any byte of the image, nor the build's docker logins or CA trust", async () => {
    const { imageFile } = built();
    expect(await fileContainsAny(imageFile, secretForms()), "a secret in the image").to.equal(
      false,
    );
    expect(await ext4Stat(imageFile, "/root/.docker/config.json")).to.equal(undefined);
    expect(await ext4Stat(imageFile, "/etc/docker/certs.d")).to.equal(undefined);
  });

  it("boots a VM that lists the images in docker and containerd (k8s.io) with the registries stopped", async () => {
    const { cloud, outs, anonymous, privateImage } = built();
    await Promise.all(fronts.map((front) => front.close()));
    await Promise.all(registries.map((registry) => registry.stop()));
    const expectations = [
      [anonymousRef(anonymous), anonymous],
      [privateRef(privateImage), privateImage],
    ] as const;
    const checks = expectations.flatMap(([reference, image]) => {
      const repository = reference.slice(0, reference.lastIndexOf(":"));
      return [
        `grep -qxF ${shellWord(`${reference} ${image.digest}`)} <<<"$ctr_images" || fail "containerd lacks ${reference}"`,
        `grep -qxF ${shellWord(`${repository}@${image.digest}`)} <<<"$docker_images" || fail "docker lacks ${reference}"`,
        `grep -qxF ${shellWord(`${reference} ${image.configDigest}`)} <<<"$docker_ids" || fail "docker's ${reference} is another image"`,
      ];
    });
    const result = await verifyOnNewVm(
      cloud,
      outs.imageSelfLink,
      "verify-containers",
      verificationScript(
        [
          `if curl -q -k -s --max-time 5 -o /dev/null https://${REGISTRY_ADDRESS}:${PRIVATE_PORT}/v2/; then fail "the registry still answers"; fi`,
          "systemctl is-active --quiet containerd.service || fail 'containerd is not running from boot'",
          "ctr_images=$(ctr -n k8s.io images ls | awk 'NR > 1 { print $1, $3 }')",
          "docker_images=$(docker images --digests --format '{{.Repository}}@{{.Digest}}')",
          "docker_ids=$(docker images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}')",
          "echo \"TestStatus: containerd k8s.io: $(tr '\\n' ' ' <<<\"$ctr_images\")\"",
          "echo \"TestStatus: docker: $(tr '\\n' ' ' <<<\"$docker_images\")\"",
          ...checks,
          '[[ ! -e /etc/docker/certs.d ]] || fail "the build\'s CA trust is in the image"',
          `! grep -q ${ARTIFACT_REGISTRY} /etc/hosts || fail "the build's /etc/hosts line is in the image"`,
        ].join("\n"),
      ),
    );
    expect(result.verdict, result.port2).to.equal("TestPass");
    expectNoTemporaries(cloud.emulator, [outs.imageName]);
  });
});

/** Every form in which the secrets could leak: as given, and as the Basic header carries them. */
function secretForms(): string[] {
  return [
    PASSWORD,
    Buffer.from(`${ROBOT}:${PASSWORD}`).toString("base64"),
    SERVICE_ACCOUNT_TOKEN,
    Buffer.from(`oauth2accesstoken:${SERVICE_ACCOUNT_TOKEN}`).toString("base64"),
  ];
}

/** `text` as one single-quoted shell word. */
function shellWord(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
