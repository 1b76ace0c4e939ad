/**
 * Shared set-up of the end-to-end tests: the guest image (built once, then cached), a fresh
 * instance directory with a boot disk overlay, and a machine booted from it with a test metadata
 * server. Timings are printed as `[e2e timing]` lines, which the report quotes.
 */
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import {
  createOverlay,
  ensureGuestImage,
  startMachine,
  type GuestImage,
  type Machine,
  type DiskInterface,
  type MachineDisk,
  type SmbiosSystem,
} from "../../../emulator/qemu";
import { requireE2ePrerequisites } from "./hostTools";
import { FakeMetadataServer } from "../../support/metadataServer";

let guestImage: Promise<GuestImage> | undefined;

/** The guest image for this run: built on first use (minutes), from the cache afterwards. */
export function sharedGuestImage(): Promise<GuestImage> {
  guestImage ??= (async () => {
    const started = Date.now();
    const image = await ensureGuestImage({
      onBuildOutput: (line) => {
        if (line.startsWith("=== ")) console.log(`      [guest image] ${line.slice(4)}`);
      },
    });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `      [e2e timing] guest image ${image.built ? "built" : "from cache"} in ${seconds} s (${image.directory})`,
    );
    return image;
  })();
  return guestImage;
}

/** One booted test instance and what belongs to it. */
export interface TestInstance {
  /** The running machine. */
  machine: Machine;
  /** Its metadata server (set attributes here, e.g. the ack). */
  metadata: FakeMetadataServer;
  /** The instance's directory (disks, serial captures). */
  directory: string;
  /** The boot disk: a qcow2 overlay over the guest image's root filesystem. */
  bootDisk: string;
  /** The guest image the boot disk is an overlay of. */
  image: GuestImage;
  /** Stops the machine if still running, closes the metadata server, removes the directory. */
  dispose(): Promise<void>;
}

/** Variations of {@link bootTestInstance}. */
export interface TestInstanceOptions {
  /** SMBIOS overrides (e.g. a non-GCE product name, to exercise the NoCloud fallback). */
  smbios?: Partial<SmbiosSystem>;
  /** SCSI (the launcher's default) or NVMe disks. */
  diskInterface?: DiskInterface;
  /** Disks attached at boot besides the boot disk, created in the instance directory by `create`. */
  extraDisks?: Array<{ deviceName: string; create: (file: string) => Promise<void> }>;
}

/** Boots a new instance named `name` whose metadata carries `userData` as `user-data`. */
export async function bootTestInstance(
  name: string,
  userData: string,
  options: TestInstanceOptions = {},
): Promise<TestInstance> {
  const image = await sharedGuestImage();
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), `pci-e2e-${name}-`));
  const bootDisk = path.join(directory, "boot.qcow2");
  await createOverlay(image.rootDisk, bootDisk);
  const metadata = new FakeMetadataServer({ id: String(Date.now()), name, zone: "local-a" });
  metadata.setAttribute("user-data", userData);
  metadata.setAttribute("block-project-ssh-keys", "TRUE");
  await metadata.start();
  const disks: MachineDisk[] = [{ file: bootDisk, format: "qcow2", deviceName: "boot" }];
  for (const extra of options.extraDisks ?? []) {
    const file = path.join(directory, `${extra.deviceName}.raw`);
    await extra.create(file);
    disks.push({ file, format: "raw", deviceName: extra.deviceName });
  }
  const machine = await startMachine({
    name,
    workDir: directory,
    initrd: image.initrd,
    disks,
    ...(options.diskInterface ? { diskInterface: options.diskInterface } : {}),
    metadataPort: metadata.port,
    ...(options.smbios ? { smbios: options.smbios } : {}),
  });
  console.log(`      [e2e] ${name}: QEMU pid ${machine.pid}, accelerator ${machine.accelerator}`);
  return {
    machine,
    metadata,
    directory,
    bootDisk,
    image,
    async dispose() {
      if (machine.running) await machine.kill();
      await metadata.stop();
      if (!process.env.PCI_E2E_KEEP) await fs.rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * Registers the hooks of a suite whose tests boot their own instance: `before` skips the suite
 * (loudly) without the prerequisites and has the guest image ready, `afterEach` disposes of the
 * instance the test booted. Returns {@link bootTestInstance} for the running test.
 */
export function instancePerTest(): typeof bootTestInstance {
  let instance: TestInstance | undefined;

  before(async function () {
    await requireE2ePrerequisites(this);
    await sharedGuestImage();
  });

  afterEach(async function () {
    await instance?.dispose();
    instance = undefined;
  });

  return async (name, userData, options) =>
    (instance = await bootTestInstance(name, userData, options));
}

/** Seconds since the machine started, for timing lines. */
export function secondsSinceBoot(machine: Machine): string {
  return ((Date.now() - machine.bootedAt.getTime()) / 1000).toFixed(1);
}
