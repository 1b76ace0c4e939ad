import { setTimeout as sleep } from "node:timers/promises";
import type { protos } from "@google-cloud/compute";
import { ACK_METADATA_KEY } from "../guest/protocol";
import { enterPhase, type BuildRun } from "./buildRun";
import { setInstanceMetadataItem } from "./instanceMetadata";
import type { ZonalRef } from "./temporaries";

/**
 * After `BuildSucceeded:`: the orchestrator acknowledges in instance metadata, and the provisioner,
 * which waits for that key, powers the VM off. The image is made only from a stopped VM's disk.
 */

/** Sets the acknowledgement key (value: the build id), keeping the rest of the metadata. */
export async function acknowledge(
  run: BuildRun,
  vm: ZonalRef,
  seen: protos.google.cloud.compute.v1.IInstance,
): Promise<void> {
  await enterPhase(run, "acknowledge");
  await setInstanceMetadataItem(
    run.api,
    vm,
    { key: ACK_METADATA_KEY, value: run.buildId },
    `acknowledging the build to ${vm.name}`,
    seen,
  );
}

/**
 * Waits until the VM has powered off. If the guest has not done so within the grace time, the VM is
 * stopped from outside (its work is done: the provisioner cleaned the machine before it reported).
 */
export async function waitForPowerOff(run: BuildRun, vm: ZonalRef): Promise<void> {
  await enterPhase(run, "stop");
  const { api, deadline, options } = run;
  const firstPollMs = options.stopPollMs ?? 500;
  let pollMs = firstPollMs;
  const graceUntil = Date.now() + (options.stopGraceMs ?? 3 * 60_000);
  let stopRequested = false;
  for (;;) {
    deadline.check("waiting for the build VM to power off");
    const [instance] = await api.read(`reading the instance ${vm.name}`, () =>
      api.clients.instances.get(instanceKey(vm), api.callOptions()),
    );
    if (instance.status === "TERMINATED" || instance.status === "STOPPED") return;
    if (!stopRequested && Date.now() > graceUntil) {
      run.progress.warn(`the build VM did not power off by itself; stopping it`);
      stopRequested = true;
      await api.mutate(`stopping ${vm.name}`, vm, (requestId) =>
        api.clients.instances.stop({ ...instanceKey(vm), requestId }, api.callOptions()),
      );
    }
    await sleep(pollMs, undefined, { signal: deadline.signal }).catch(() => undefined);
    pollMs = Math.min(4 * firstPollMs, Math.round(pollMs * 1.5));
  }
}

function instanceKey(vm: ZonalRef): { project: string; zone: string; instance: string } {
  return { project: vm.project, zone: vm.zone, instance: vm.name };
}
