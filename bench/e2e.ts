/**
 * `npm run bench:e2e`: the hello example built for real, as `npm start` runs it (the program, the
 * component, the dynamic provider, the emulator, a QEMU machine booting the Debian stand-in for
 * COS). Last line:
 *
 *   e2e: build <s>s, guest <s>s, boot <s>s, orchestration <s>s
 *
 * - build: wall time of the build resource's `create` (from the first API call to the image
 *   being final and every temporary deleted);
 * - guest: how long the build VM's QEMU machine ran, from QEMU being up to its last process exiting
 *   (boot, cloud-init, the steps, cleaning, waiting for the acknowledgement, power-off; reboots
 *   included);
 * - boot: from the build VM's QEMU being up to the first `BuildStatus` line on serial port 3 (the
 *   guest's boot: kernel, initramfs, systemd, cloud-init, the provisioner's start);
 * - orchestration: the rest (API calls, packing and uploading, polling lag, image creation,
 *   teardown).
 *
 * Run it alone: under TCG the guest is CPU-bound, and anything else running slows it down.
 */
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import type { MachineRun } from "../emulator/qemu";
import { runExampleLocally } from "../localEngine/localRun";

async function main(): Promise<void> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "pci-bench-e2e-"));
  const machineRuns: MachineRun[] = [];
  let buildMs: number | undefined;
  try {
    await runExampleLocally({
      example: "hello",
      dataDir,
      write: (line) => console.log(`  ${line}`),
      onMachineRun: (run) => machineRuns.push(run),
      onDynamicCreate: (registration, startedAt, endedAt) => {
        if (registration.type.endsWith(":ImageBuild")) buildMs = endedAt - startedAt;
      },
    });
  } finally {
    await fs.rm(dataDir, { recursive: true, force: true });
  }
  if (buildMs === undefined) throw new Error("the hello example ran no build");
  const guestMs = machineRuns.reduce((sum, run) => sum + (run.endedAt - run.startedAt), 0);
  const seconds = (ms: number) => (ms / 1000).toFixed(1);
  const first = machineRuns[0];
  const boot =
    first?.firstBuildStatusAt !== undefined
      ? `${seconds(first.firstBuildStatusAt - first.startedAt)}s`
      : "? (no BuildStatus line)";
  console.log(
    `e2e: build ${seconds(buildMs)}s, guest ${seconds(guestMs)}s, boot ${boot}, orchestration ${seconds(buildMs - guestMs)}s`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
