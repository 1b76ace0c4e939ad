/**
 * What the emulator held at the end of a local run, so that the next `npm start` finds it again:
 * the images the runs made (re-created at start from their files, as seed images) and the buckets.
 * The emulator itself keeps nothing between processes; with this and the engine's state
 * (`engineState.ts`) in the data directory, a second run diffs against the first.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import type { GcpClients } from "../components/google/clients";
import type { Emulator } from "../emulator";
import type { SeedImage } from "../emulator/compute/seedImages";

/** The snapshot's file name in a data directory. */
export const EMULATOR_SNAPSHOT_FILE = "local-emulator.json";

/** The emulator's lasting content. */
export interface EmulatorSnapshot {
  /** Images made by local runs, with their files. */
  images: SeedImage[];
  /** Buckets. */
  buckets: Array<{ project: string; name: string }>;
}

/** The snapshot in `dataDir`, or an empty one. */
export async function loadSnapshot(dataDir: string): Promise<EmulatorSnapshot> {
  const text = await fs
    .readFile(path.join(dataDir, EMULATOR_SNAPSHOT_FILE), "utf8")
    .catch(() => undefined);
  if (text === undefined) return { images: [], buckets: [] };
  const parsed = JSON.parse(text) as Partial<EmulatorSnapshot>;
  return { images: parsed.images ?? [], buckets: parsed.buckets ?? [] };
}

/**
 * Records the images local runs made (those not seeded at start, and those restored from an
 * earlier snapshot that still exist) and every bucket.
 */
export async function saveSnapshot(
  dataDir: string,
  emulator: Emulator,
  restored: EmulatorSnapshot,
): Promise<void> {
  const restoredKeys = new Set(restored.images.map((image) => `${image.project}/${image.name}`));
  const images: SeedImage[] = emulator
    .inventory()
    .images.filter((image) => !image.seeded || restoredKeys.has(`${image.project}/${image.name}`))
    .map((image) => {
      const file = emulator.imageFile(image.project, image.name);
      return {
        project: image.project,
        name: image.name,
        ...(image.family ? { family: image.family } : {}),
        labels: image.labels,
        ...(file ? { filePath: file } : {}),
      };
    });
  const snapshot: EmulatorSnapshot = { images, buckets: emulator.inventory().buckets };
  await fs.writeFile(
    path.join(dataDir, EMULATOR_SNAPSHOT_FILE),
    `${JSON.stringify(snapshot, null, 2)}\n`,
  );
}

/** Creates the snapshot's buckets in a fresh emulator (its images are passed as seed images). */
export async function restoreBuckets(
  clients: GcpClients,
  snapshot: EmulatorSnapshot,
): Promise<void> {
  for (const bucket of snapshot.buckets) await clients.storage.createBucket(bucket.name);
}
