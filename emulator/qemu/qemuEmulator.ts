/**
 * The emulator with real virtual machines: every instance is a QEMU machine booting the local
 * Debian stand-in for COS, images and disks are files, and the stand-in is the newest `cos-stable`
 * image in `cos-cloud`. What the end-to-end tests, `npm start` and `npm run bench:e2e` run on.
 */
import { startEmulator, type Emulator } from "../emulator";
import type { EmulatorOptions } from "../options";
import { ensureGuestImage, type GuestImage } from "./guestImage";
import { localCosSeedImage } from "./localCosImage";
import { qemuGuests, type QemuGuestOptions } from "./qemuGuest";

/** Options of {@link startQemuEmulator}. */
export interface QemuEmulatorOptions extends Omit<
  EmulatorOptions,
  "diskFiles" | "guestFor" | "defaultGuest"
> {
  /** The guest image. Default: {@link ensureGuestImage} (built on first use, minutes). */
  guestImage?: GuestImage;
  /** Machine settings of every instance (the boot files come from the guest image). */
  machines?: Omit<QemuGuestOptions, "boot">;
}

/** A running emulator whose instances are QEMU machines. */
export interface QemuEmulator {
  /** The emulator. */
  emulator: Emulator;
  /** The guest image every instance boots. */
  guestImage: GuestImage;
  /** The stand-in source image, `projects/cos-cloud/global/images/<name>`. */
  sourceImage: string;
}

/**
 * Starts the emulator with disk files, a QEMU machine behind every instance, and the guest image
 * seeded as `cos-cloud`'s newest `cos-stable` image. The emulator's own COS images are left out
 * (unless `includeCosImages` says otherwise): they have no disk to boot.
 */
export async function startQemuEmulator(options: QemuEmulatorOptions = {}): Promise<QemuEmulator> {
  const { guestImage: given, machines, ...emulatorOptions } = options;
  const guestImage = given ?? (await ensureGuestImage());
  const seed = localCosSeedImage(guestImage);
  const emulator = await startEmulator({
    includeCosImages: false,
    ...emulatorOptions,
    seedImages: [...(emulatorOptions.seedImages ?? []), seed],
    diskFiles: true,
    guestFor: qemuGuests({ ...machines, boot: guestImage }),
  });
  return {
    emulator,
    guestImage,
    sourceImage: `projects/${seed.project}/global/images/${seed.name}`,
  };
}
