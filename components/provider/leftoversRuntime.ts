import type * as pulumi from "@pulumi/pulumi";
import { canonicalJson } from "../pipeline/contentHash";
import { DEFAULTS } from "../pipeline/spec";
import { sweep } from "../pipeline/sweep";
import { withApi } from "./environment";
import type {
  LeftoverPlace,
  LeftoverSweeperInputs,
  LeftoverSweeperOutputs,
} from "./leftoverSweeper";

/**
 * The provider of the component's leftover sweeper (see `leftoverSweeper.ts`): it remembers every
 * place where the component's builds ran, and its delete sweeps them all.
 */

/** The place the inputs name: build project and zone, image project, bucket and prefix. */
export function placeOf(inputs: LeftoverSweeperInputs): LeftoverPlace {
  return {
    project: inputs.project,
    zone: inputs.zone,
    imageProject: inputs.imageProject ?? inputs.project,
    bucket: inputs.bucket,
    prefix: `${(inputs.bucketPrefix ?? DEFAULTS.bucketPrefix).replace(/\/+$/, "")}/`,
  };
}

export function check(
  _olds: unknown,
  news: LeftoverSweeperInputs,
): Promise<pulumi.dynamic.CheckResult> {
  return Promise.resolve({ inputs: news });
}

/** A new place (or other endpoints) is recorded in place; the sweeper is never replaced. */
export function diff(
  _id: string,
  olds: LeftoverSweeperOutputs,
  news: LeftoverSweeperInputs,
): Promise<pulumi.dynamic.DiffResult> {
  const moved = canonicalJson(placeOf(olds)) !== canonicalJson(placeOf(news));
  const endpoints = canonicalJson(olds.endpoints) !== canonicalJson(news.endpoints);
  return Promise.resolve({ changes: moved || endpoints, replaces: [] });
}

/** Records the first place; makes no cloud call (nothing of the component's exists yet). */
export function create(inputs: LeftoverSweeperInputs): Promise<pulumi.dynamic.CreateResult> {
  const outs: LeftoverSweeperOutputs = { ...inputs, places: [placeOf(inputs)] };
  return Promise.resolve({ id: `leftovers-${inputs.ownerId}`, outs });
}

/**
 * The component moved (another zone, project or bucket): its earlier places are swept now, whatever
 * the age of what they hold (the stack lock means no build of it runs there), and all are remembered.
 */
export async function update(
  _id: string,
  olds: LeftoverSweeperOutputs,
  news: LeftoverSweeperInputs,
): Promise<pulumi.dynamic.UpdateResult> {
  const place = placeOf(news);
  const earlier = olds.places.filter((p) => canonicalJson(p) !== canonicalJson(place));
  await sweepPlaces(news, earlier);
  return { outs: { ...news, places: [...earlier, place] } };
}

export function read(
  id: string,
  props: LeftoverSweeperOutputs,
): Promise<pulumi.dynamic.ReadResult> {
  return Promise.resolve({ id, props });
}

/**
 * The component goes (destroy, or removed from the program): every place where its builds ran is
 * swept, whatever the age of what it holds. This also reaches a build killed during its first create,
 * which left no build resource in state.
 */
async function deleteSweeper(_id: string, props: LeftoverSweeperOutputs): Promise<void> {
  await sweepPlaces(props, props.places);
}
export { deleteSweeper as delete };

async function sweepPlaces(
  owner: Pick<LeftoverSweeperInputs, "ownerId" | "namePrefix" | "endpoints" | "project">,
  places: LeftoverPlace[],
): Promise<void> {
  for (const place of places) {
    await withApi(
      { endpoints: owner.endpoints, vm: { project: place.project }, namePrefix: owner.namePrefix },
      (api, progress) =>
        sweep(
          api,
          {
            project: place.project,
            zone: place.zone,
            imageProjects: [...new Set([place.project, place.imageProject])],
            bucket: place.bucket,
            prefix: place.prefix,
            ownerId: owner.ownerId,
            createdBefore: Date.now() + 60_000,
          },
          progress,
        ),
    );
  }
}
