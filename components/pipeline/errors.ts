import type { Problem } from "../validation";

/**
 * Why a build failed, in terms the user can act on. Every message names the phase or step, and
 * provisioner failures carry the last lines of serial port 3.
 */

/** Lines of guest output kept for error messages. */
export const SERIAL_TAIL_LINES = 50;

/** The provisioner reported `BuildFailed:`, or the VM stopped or vanished before the build finished. */
export class BuildFailedError extends Error {
  constructor(
    /** The failing step (`step 2/3 runScript install.sh`) or phase (`setup`, `the build VM`). */
    readonly step: string,
    /** What went wrong. */
    readonly reason: string,
    /** The last lines of serial port 3. */
    readonly serialTail: readonly string[],
  ) {
    const tail = serialTail.length
      ? `\nLast ${serialTail.length} lines of the build VM's serial port 3:\n${serialTail.map((l) => `  | ${l}`).join("\n")}`
      : "";
    super(`the image build failed in ${step}: ${reason}${tail}`);
    this.name = "BuildFailedError";
  }
}

/** The fixed output name is taken by an image this component did not make; found before any build. */
export class ImageNameTakenError extends Error {
  constructor(
    /** The field (`imageName` or `imageNameSuffix`), what holds the name, and the fix. */
    readonly problem: Problem,
  ) {
    super(`${problem.field}: ${problem.message}. Fix: ${problem.fix}`);
    this.name = "ImageNameTakenError";
  }
}
