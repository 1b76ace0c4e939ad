/**
 * The `gpu` example (examples/gpu), run as `npm start -- gpu` runs it: through the local engine,
 * against the emulator whose VMs are QEMU machines booting the COS-shaped guest. Its
 * `installGpuDriver` step runs against the guest's `cos-extensions` stand-in (there is no GPU and no
 * cos-gpu-installer container here: the stand-in plays what a build and an instance can see):
 * - the toolchain goes to the scratch disk, and neither it nor the driver installer is left in the
 *   image;
 * - the boot-time setup (setup_gpu.sh and preloaded-cos-image-gpu.service) is in the image, pinned
 *   to the driver installed at build time;
 * - a VM booted from the image with the example's own cloud-init (its `bootTimeSetup` output, the
 *   user-data of its instance template) runs the unit at boot, which loads the cached driver.
 */
import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import type { LocalRunResult } from "../../localEngine/localRun";
import { ext4ReadFile, ext4Stat } from "./helpers/ext4Image";
import { requireE2ePrerequisites } from "./helpers/hostTools";
import { deployedResult, runExampleOnQemu, type ExampleRun } from "./helpers/exampleRun";
import type { QemuCloud } from "./helpers/qemuCloud";
import { verificationScript, verifyOnNewVm, type Verification } from "./helpers/verificationVm";

const INSTALL_DIR = "/var/lib/nvidia";
/** The driver the stand-in installs for "default", as the real tool picks one per COS release. */
const DEFAULT_DRIVER = "535.183.01";
const INSTALLER = `NVIDIA-Linux-x86_64-${DEFAULT_DRIVER}.run`;
const UNIT = "preloaded-cos-image-gpu.service";

describe("e2e: the gpu example on QEMU: installGpuDriver and its boot-time setup on the COS-shaped guest", function () {
  let example: ExampleRun = { lines: [] };
  let verification: Verification | undefined;
  let dataDir = "";

  before(async function () {
    await requireE2ePrerequisites(this);
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "pci-e2e-gpu-example-"));
    example = await runExampleOnQemu({
      example: "gpu",
      dataDir,
      afterDeploy: async (cloud, result) => {
        verification = await verifyWithBootTimeSetup(cloud, result);
      },
    });
  });

  after(async () => {
    if (dataDir && !process.env.PCI_E2E_KEEP)
      await fs.rm(dataDir, { recursive: true, force: true });
  });

  const deployed = (): LocalRunResult => deployedResult(example);

  /** The one image the example made, and its file. */
  const imageFile = (): string => {
    const images = deployed().images;
    expect(images.map((image) => image.name)).to.deep.equal([deployed().outputs.imageName]);
    return images[0].file ?? "";
  };

  it("put the toolchain on the scratch disk while the driver was installed", () => {
    deployed();
    const progress = example.lines.join("\n");
    expect(progress).to.include("the toolchain goes to the scratch disk");
    // The stand-in names the device under /var/lib/cos-extensions: a second disk, not the boot disk.
    expect(progress).to.match(/toolchain cached in \/var\/lib\/cos-extensions on \/dev\/sd[b-z]\b/);
    expect(progress).to.include(`removed the driver installer ${INSTALLER} from ${INSTALL_DIR}`);
  });

  it("left the boot-time setup in the image, pinned to the installed driver, and no installer or toolchain", async () => {
    const file = imageFile();
    const setup = await ext4ReadFile(file, `${INSTALL_DIR}/setup_gpu.sh`);
    expect(setup).to.include(`readonly version=${DEFAULT_DRIVER}`);
    expect(setup).to.include(`readonly install_dir=${INSTALL_DIR}`);
    const unit = await ext4ReadFile(file, `${INSTALL_DIR}/${UNIT}`);
    expect(unit).to.include(`ExecStart=/bin/bash "${INSTALL_DIR}/setup_gpu.sh"`);
    expect(await ext4Stat(file, `${INSTALL_DIR}/${INSTALLER}`)).to.equal(undefined);
    expect(await ext4Stat(file, "/var/lib/cos-extensions")).to.equal(undefined);
  });

  it("boots a VM with the example's cloud-init, whose boot-time step loads the cached driver", () => {
    deployed();
    expect(verification, "the verification ran").to.not.equal(undefined);
    expect(verification!.verdict, verification!.port2).to.equal("TestPass");
  });
});

/**
 * Boots a VM from the example's image with the example's `bootTimeSetup` (the instance template's
 * user-data) added to the verification's cloud-config, and checks on serial port 2 that the unit
 * ran at boot and loaded the driver installed at build time.
 */
async function verifyWithBootTimeSetup(
  cloud: QemuCloud,
  result: LocalRunResult,
): Promise<Verification> {
  const bootTimeSetup =
    typeof result.outputs.bootTimeSetup === "string" ? result.outputs.bootTimeSetup : "";
  expect(bootTimeSetup.startsWith("#cloud-config\n"), "bootTimeSetup is a cloud-config").to.equal(
    true,
  );
  return verifyOnNewVm(
    cloud,
    String(result.outputs.imageSelfLink),
    "verify-gpu",
    verificationScript(
      [
        `unit=${UNIT}`,
        "for _ in $(seq 1 240); do",
        '  state=$(systemctl show -p ActiveState --value "$unit")',
        "  [[ $state == active || $state == failed ]] && break",
        "  sleep 1",
        "done",
        'echo "TestStatus: $unit is $state"',
        '[[ $state == active ]] || fail "$unit is $state: $(journalctl -u "$unit" --no-pager | tail -n 5)"',
        'journal=$(journalctl -u "$unit" --no-pager)',
        `grep -qF 'GPU driver ${DEFAULT_DRIVER} found cached in ${INSTALL_DIR}' <<<"$journal" || fail "the driver was not loaded from the cache"`,
        `grep -qF 'NVIDIA-SMI driver version ${DEFAULT_DRIVER}' <<<"$journal" || fail "nvidia-smi did not run"`,
        `tail -n 1 /var/lib/cos-stand-ins/cos-extensions.log | grep -qxF 'cos-extensions install gpu -- -version=${DEFAULT_DRIVER} -host-dir=${INSTALL_DIR}' || fail "the boot asked for another driver"`,
        `findmnt -n -o OPTIONS ${INSTALL_DIR} | grep -qw noexec && fail "${INSTALL_DIR} is still noexec"`,
        'echo "TestStatus: $(tail -n 1 /var/lib/cos-stand-ins/cos-extensions.log)"',
      ].join("\n"),
    ),
    { extraCloudConfig: bootTimeSetup.slice("#cloud-config\n".length) },
  );
}
