/**
 * Proving an image the way COS Customizer's integration tests do (cos-customizer.md section 4):
 * boot a VM from it whose own cloud-config runs a verification unit on `/dev/ttyS1`, and wait on
 * serial port 2 for `TestPass:` or `TestFail:` (progress as `TestStatus:`). Everything goes through
 * the Compute Engine API of the local cloud, with the project's real clients.
 */
import type { protos } from "@google-cloud/compute";
import { oneshotUnitCloudConfig } from "./cloudConfig";
import { E2E_PROJECT, E2E_ZONE, type QemuCloud } from "./qemuCloud";

/** What the verification VM reported. */
export interface Verification {
  /** `TestPass` or `TestFail`. */
  verdict: "TestPass" | "TestFail";
  /** The verdict line. */
  line: string;
  /** Serial port 2 (the verification unit's output), up to the verdict. */
  port2: string;
  /** Serial port 3 (where a provisioner would report, had it been left in the image). */
  port3: string;
}

/**
 * The body of a verification script: `check` functions run under `set -e` with an ERR trap, as in
 * COS Customizer's test configs; any failing command prints `TestFail:` with its line.
 */
export function verificationScript(checks: string): string {
  return [
    "#!/bin/bash",
    "set -uo pipefail",
    'fail() { echo "TestFail: $*"; exit 1; }',
    "trap 'fail \"line $LINENO: $BASH_COMMAND\"' ERR",
    "set -eE",
    'echo "TestStatus: verifying the image"',
    checks,
    'echo "TestPass: all checks passed"',
    "",
  ].join("\n");
}

type Operation = protos.google.cloud.compute.v1.IOperation;

/** How a verification VM differs from the default one. */
export interface VerificationOptions {
  /** How long to wait for the verdict. Default: 10 minutes. */
  timeoutMs?: number;
  /**
   * More top-level cloud-config (YAML keys such as `bootcmd:`, what a user's instance would carry)
   * added to the verification's own. Default: none.
   */
  extraCloudConfig?: string;
  /**
   * The machine type (a name in the e2e zone): an image built for an NVMe-only series is checked on
   * one, where its boot disk is `/dev/nvme0n1`. Default: `e2-small` (SCSI, `/dev/sda`).
   */
  machineType?: string;
}

/**
 * Boots `name` from `image` with `script` as its verification unit; returns the verdict; deletes the
 * VM.
 */
export async function verifyOnNewVm(
  cloud: QemuCloud,
  image: string,
  name: string,
  script: string,
  {
    timeoutMs = 10 * 60_000,
    extraCloudConfig = "",
    machineType = "e2-small",
  }: VerificationOptions = {},
): Promise<Verification> {
  const { instances } = cloud.clients;
  const key = { project: E2E_PROJECT, zone: E2E_ZONE, instance: name };
  const started = Date.now();
  await waitForOperation(
    cloud,
    await instances.insert({
      project: E2E_PROJECT,
      zone: E2E_ZONE,
      instanceResource: {
        name,
        machineType: `zones/${E2E_ZONE}/machineTypes/${machineType}`,
        disks: [
          {
            boot: true,
            autoDelete: true,
            deviceName: "boot",
            initializeParams: { diskName: `${name}-boot`, sourceImage: image },
          },
        ],
        networkInterfaces: [{ network: "global/networks/default" }],
        metadata: {
          items: [
            {
              key: "user-data",
              value:
                oneshotUnitCloudConfig("pci-e2e-verify", script, { tty: "/dev/ttyS1" }) +
                extraCloudConfig,
            },
            { key: "block-project-ssh-keys", value: "TRUE" },
          ],
        },
      },
    }),
  );
  try {
    let port2 = "";
    for (;;) {
      const [output] = await instances.getSerialPortOutput({ ...key, port: 2, start: "0" });
      port2 = (output.contents ?? "").replaceAll("\r\n", "\n");
      const verdict = /^(TestPass|TestFail):.*$/m.exec(port2);
      if (verdict) {
        const [port3] = await instances.getSerialPortOutput({ ...key, port: 3, start: "0" });
        console.log(
          `      [e2e timing] verification VM ${name}: ${((Date.now() - started) / 1000).toFixed(1)} s to its verdict`,
        );
        return {
          verdict: verdict[1] as Verification["verdict"],
          line: verdict[0],
          port2,
          port3: (port3.contents ?? "").replaceAll("\r\n", "\n"),
        };
      }
      if (Date.now() - started > timeoutMs) {
        const [console1] = await instances.getSerialPortOutput({ ...key, port: 1, start: "-8000" });
        throw new Error(
          `no TestPass/TestFail on serial port 2 of ${name} within ${timeoutMs} ms.\n` +
            `--- port 2 ---\n${port2}\n--- port 1 (end) ---\n${console1.contents ?? ""}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  } finally {
    await waitForOperation(cloud, await instances.delete(key));
  }
}

/** Waits (server-side `wait`, looped) until a zonal operation is DONE; throws its error, if any. */
async function waitForOperation(
  cloud: QemuCloud,
  lro: [{ latestResponse: unknown }, ...unknown[]],
): Promise<void> {
  let operation = lro[0].latestResponse as Operation;
  while (String(operation.status) !== "DONE") {
    [operation] = await cloud.clients.zoneOperations.wait({
      project: E2E_PROJECT,
      zone: E2E_ZONE,
      operation: operation.name ?? "",
    });
  }
  if (operation.error?.errors?.length) {
    throw new Error(`operation ${operation.name} failed: ${JSON.stringify(operation.error)}`);
  }
}
