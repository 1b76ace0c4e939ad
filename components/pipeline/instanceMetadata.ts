import type { protos } from "@google-cloud/compute";
import type { ComputeApi } from "../google/computeApi";
import { isStaleFingerprint } from "../google/errors";
import type { ZonalRef } from "./temporaries";

/**
 * Setting one key of a running build VM's instance metadata without losing the others: GCE replaces
 * the whole item list and refuses a write whose fingerprint is stale, so the list is read, changed
 * and written back, and read again when someone (the guest agent, say) changed it in between.
 */

/** How many times a stale metadata fingerprint is read again before the write gives up. */
const SET_ATTEMPTS = 5;

/**
 * Sets `key` to `value`, keeping every other item. `seen` is the instance as last read (its
 * fingerprint is tried first); `what` names the write in progress and errors.
 */
export async function setInstanceMetadataItem(
  api: ComputeApi,
  vm: ZonalRef,
  item: { key: string; value: string },
  what: string,
  seen?: protos.google.cloud.compute.v1.IInstance,
): Promise<void> {
  let current = seen ?? (await readInstance(api, vm));
  for (let attempt = 1; ; attempt++) {
    const items = (current.metadata?.items ?? []).filter((other) => other.key !== item.key);
    try {
      await api.mutate(what, vm, (requestId) =>
        api.clients.instances.setMetadata(
          {
            ...instanceKey(vm),
            requestId,
            metadataResource: {
              fingerprint: current.metadata?.fingerprint,
              items: [...items, item],
            },
          },
          api.callOptions(),
        ),
      );
      return;
    } catch (error) {
      if (!isStaleFingerprint(error) || attempt >= SET_ATTEMPTS) throw error;
      current = await readInstance(api, vm);
    }
  }
}

/** The instance as it is now. */
export async function readInstance(
  api: ComputeApi,
  vm: ZonalRef,
): Promise<protos.google.cloud.compute.v1.IInstance> {
  const [instance] = await api.read(`reading the instance ${vm.name}`, () =>
    api.clients.instances.get(instanceKey(vm), api.callOptions()),
  );
  return instance;
}

function instanceKey(vm: ZonalRef): { project: string; zone: string; instance: string } {
  return { project: vm.project, zone: vm.zone, instance: vm.name };
}
