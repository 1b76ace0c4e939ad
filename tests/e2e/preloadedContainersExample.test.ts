/**
 * The `preloaded-containers` example (examples/preloaded-containers), run as `npm start` runs an
 * example: the local engine, the emulator with QEMU machines booting the COS-shaped guest, and a
 * real registry that asks for credentials and speaks TLS with a private CA, configured through the
 * example's stack configuration alone (registry, images by digest, user, password, CA file):
 * - both images (containerd `k8s.io` for GKE-style nodes, docker for plain VMs) record the digests
 *   the registry served in their `preloadedImages` outputs;
 * - the password is in no state, progress line, serial capture or image byte;
 * - the CA is trusted for the build only (COS's /etc is a tmpfs): it is not in the images;
 * - VMs booted from the two images, with the registry stopped, list the images, and the docker
 *   image's VM runs with update-engine masked (its `disableAutoUpdate` step).
 */
import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import type { PulledImage } from "../../components";
import { REGISTRY_MIRROR } from "../../emulator/qemu";
import { ENGINE_STATE_FILE } from "../../localEngine/engineState";
import type { LocalRunResult } from "../../localEngine/localRun";
import { expectNoTemporaries } from "../orchestration/buildHarness";
import { LocalRegistry, type SeededImage } from "../support/registry";
import { makeTestCa, type TestCa } from "../support/testCa";
import { startTlsFront, type TlsFront } from "../support/tlsFront";
import { ext4Stat } from "./helpers/ext4Image";
import { deployedResult, runExampleOnQemu, type ExampleRun } from "./helpers/exampleRun";
import { requireE2ePrerequisites } from "./helpers/hostTools";
import { fileContainsAny, filesContainingAny } from "./helpers/secretScan";
import { verificationScript, verifyOnNewVm, type Verification } from "./helpers/verificationVm";

/** The example's Pulumi project name: the prefix of its configuration keys. */
const PROJECT = "preloaded-containers-cos";
/** Where the guests reach the registry (forwarded to its TLS front on the host's loopback). */
const REGISTRY_HOST = REGISTRY_MIRROR.address;
const REGISTRY_PORT = 5003;
const REGISTRY = `${REGISTRY_HOST}:${REGISTRY_PORT}`;
const ROBOT = "robot";
/** Made per run, so that no fixed string could pass the "appears nowhere" checks by luck. */
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;

describe("e2e: the preloaded-containers example on QEMU, from a private TLS registry with credentials in stack config", function () {
  let example: ExampleRun = { lines: [] };
  let images: SeededImage[] = [];
  const verifications: Partial<Record<string, Verification>> = {};
  let registry: LocalRegistry | undefined;
  let front: TlsFront | undefined;
  let ca: TestCa | undefined;
  let workRoot = "";
  let dataDir = "";
  /** Where the QEMU machines keep their serial captures. */
  let machinesDir = "";

  /** The guest's reference of a seeded image, by digest as the example asks. */
  const reference = (image: SeededImage): string =>
    `${REGISTRY}/${image.repository}@${image.digest}`;

  /** Stops the registry (and its front): the verification VMs must not be able to pull. */
  async function stopRegistry(): Promise<void> {
    await front?.close();
    await registry?.stop();
    front = undefined;
    registry = undefined;
  }

  before(async function () {
    await requireE2ePrerequisites(this);
    workRoot = await fs.mkdtemp(path.join(os.tmpdir(), "pci-e2e-containers-example-"));
    dataDir = path.join(workRoot, "data");
    machinesDir = path.join(workRoot, "machines");
    await fs.mkdir(machinesDir);
    ca = await makeTestCa({ ip: [REGISTRY_HOST] });
    const caFile = path.join(workRoot, "registry-ca.pem");
    await fs.writeFile(caFile, ca.caCertificate);
    registry = await LocalRegistry.start({ credentials: { username: ROBOT, password: PASSWORD } });
    images = [
      await registry.seed({ repository: "team/app", tag: "2.0" }),
      await registry.seed({ repository: "team/base", tag: "1.0" }),
    ];
    front = await startTlsFront({
      targetPort: registry.port,
      certificate: ca.serverCertificate,
      key: ca.serverKey,
    });
    example = await runExampleOnQemu({
      example: "preloaded-containers",
      dataDir,
      config: {
        [`${PROJECT}:registryHost`]: REGISTRY_HOST,
        [`${PROJECT}:registryPort`]: String(REGISTRY_PORT),
        [`${PROJECT}:images`]: JSON.stringify(
          images.map((image) => `${image.repository}@${image.digest}`),
        ),
        [`${PROJECT}:registryUser`]: ROBOT,
        [`${PROJECT}:registryPassword`]: PASSWORD,
        [`${PROJECT}:registryCaFile`]: caFile,
      },
      machines: {
        registryForwards: [{ guestPort: REGISTRY_PORT, hostPort: front.port }],
        workRoot: machinesDir,
        keepWorkDirs: true,
      },
      afterDeploy: async (cloud, result) => {
        await stopRegistry();
        const selfLink = (name: unknown): string => {
          const image = result.images.find((made) => made.name === name);
          if (!image) throw new Error(`the run made no image ${String(name)}`);
          return image.selfLink;
        };
        const [node, vm] = await Promise.all([
          verifyOnNewVm(
            cloud,
            selfLink(result.outputs.nodeImageName),
            "verify-gke-node",
            verificationScript(listingChecks("containerd").join("\n")),
          ),
          verifyOnNewVm(
            cloud,
            selfLink(result.outputs.vmImageName),
            "verify-docker-vm",
            verificationScript(
              [
                ...listingChecks("docker"),
                'state="$(systemctl is-enabled update-engine.service 2>&1 || true)"',
                '[[ $state == masked-runtime ]] || fail "update-engine is $state"',
              ].join("\n"),
            ),
          ),
        ]);
        verifications["gke-node"] = node;
        verifications["docker-vm"] = vm;
        expectNoTemporaries(
          cloud.emulator,
          result.images.map((image) => image.name),
        );
      },
    });
  });

  after(async () => {
    await stopRegistry();
    await ca?.remove();
    if (workRoot && !process.env.PCI_E2E_KEEP)
      await fs.rm(workRoot, { recursive: true, force: true });
  });

  const deployed = (): LocalRunResult => deployedResult(example);

  /** Checks, for a verification VM, that every seeded image is in `runtime`'s store. */
  function listingChecks(runtime: "containerd" | "docker"): string[] {
    const listing =
      runtime === "containerd"
        ? "listed=$(ctr -n k8s.io images ls | awk 'NR > 1 { print $1, $3 }')"
        : "listed=$(docker images --digests --format '{{.Repository}}@{{.Digest}}')";
    return [
      `if curl -q -k -s --max-time 5 -o /dev/null https://${REGISTRY}/v2/; then fail "the registry still answers"; fi`,
      listing,
      `echo "TestStatus: ${runtime}: $(tr '\\n' ' ' <<<"$listed")"`,
      ...images.map((image) => {
        const line =
          runtime === "containerd"
            ? `${reference(image)} ${image.digest}`
            : `${REGISTRY}/${image.repository}@${image.digest}`;
        return `grep -qxF '${line}' <<<"$listed" || fail "${runtime} lacks ${image.repository}"`;
      }),
    ];
  }

  it("recorded in each image's outputs the digests the registry served, for its runtime", () => {
    const { outputs } = deployed();
    const pulled = (runtime: PulledImage["runtime"]): PulledImage[] =>
      images.map((image) => ({ image: reference(image), runtime, digest: image.digest }));
    expect(outputs.nodeImagePulled).to.deep.equal(pulled("containerd"));
    expect(outputs.vmImagePulled).to.deep.equal(pulled("docker"));
  });

  it("trusted the registry's CA during the builds only: it is in neither image", async () => {
    const result = deployed();
    const trusted = example.lines.filter((line) =>
      line.includes(`trusting the registry CA for ${REGISTRY} during this build`),
    );
    expect(trusted, "one trust-ca line per build").to.have.length(2);
    expect(result.images).to.have.length(2);
    for (const image of result.images) {
      expect(await ext4Stat(image.file ?? "", "/etc/docker/certs.d"), image.name).to.equal(
        undefined,
      );
    }
  });

  it("kept the password out of the state, the progress, every serial capture and both images", async () => {
    const result = deployed();
    const secrets = [PASSWORD, Buffer.from(`${ROBOT}:${PASSWORD}`).toString("base64")];
    const state = await fs.readFile(path.join(dataDir, ENGINE_STATE_FILE), "utf8");
    expect(state, "the state records the images").to.include(String(result.outputs.vmImageName));
    for (const secret of secrets) {
      expect(state.includes(secret), "a secret in the state").to.equal(false);
      expect(example.lines.join("\n").includes(secret), "a secret in the progress").to.equal(false);
    }
    const captures = (await fs.readdir(machinesDir, { recursive: true })).filter((name) =>
      String(name).endsWith(".log"),
    );
    expect(captures.length, "serial captures of the build VMs").to.be.greaterThan(3);
    expect(await filesContainingAny(machinesDir, secrets), "files with a secret").to.deep.equal([]);
    for (const image of result.images) {
      expect(await fileContainsAny(image.file ?? "", secrets), image.name).to.equal(false);
    }
  });

  it("boots VMs that list the images with the registry stopped: containerd's k8s.io and docker", () => {
    deployed();
    for (const name of ["gke-node", "docker-vm"]) {
      const verification = verifications[name];
      expect(verification, `the ${name} verification ran`).to.not.equal(undefined);
      expect(verification!.verdict, verification!.port2).to.equal("TestPass");
    }
  });
});
