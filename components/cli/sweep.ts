import { createGcpClients, endpointsFromEnv, type GcpClients } from "../google/clients";
import { ComputeApi } from "../google/computeApi";
import { Deadline } from "../google/deadline";
import { isBucketName, isProjectId, isZone } from "../google/names";
import { MANAGED_BY, TEMPORARY_LABEL_KEYS } from "../naming";
import { teardown } from "../pipeline/teardown";
import { Temporaries, createdBefore } from "../pipeline/temporaries";
import type { Problem } from "../validation";
import type { ParsedFlags } from "./args";
import { reporterProgress } from "./cloud";
import { ConfigError, EXIT } from "./errors";
import type { Reporter } from "./output";

/**
 * `sweep`: finds what builds left behind (labelled `managed-by=preloaded-cos-image` and
 * `pci-build`; finished output images keep only the first, so they are never taken) in every zone
 * of the project unless one is given, and deletes what is older than `--older-than`.
 */

/** Default age limit: older than any build's default deadline, so running builds are spared. */
const DEFAULT_OLDER_THAN = "2h";
const SWEEP_DEADLINE_MS = 15 * 60_000;
const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** What a sweep looks at. */
interface SweepRequest {
  project: string;
  zone?: string;
  bucket?: string;
  prefix?: string;
  build?: string;
  olderThanMs: number;
  dryRun: boolean;
}

/** Runs `sweep`; returns the exit code. */
export async function runSweep(flags: ParsedFlags, reporter: Reporter): Promise<number> {
  const request = sweepRequest(flags);
  const clients = createGcpClients({ endpoints: endpointsFromEnv(), projectId: request.project });
  const deadline = new Deadline(SWEEP_DEADLINE_MS);
  try {
    const progress = reporterProgress(reporter);
    const api = new ComputeApi(clients, deadline, progress);
    const found = await findLeftovers(clients, request, Date.now());
    const listed = found.describe();
    if (request.dryRun) {
      reporter.info(listed.length ? `would remove: ${listed.join(", ")}` : "nothing to remove");
      reporter.result({ dryRun: true, wouldRemove: listed });
      return EXIT.ok;
    }
    await teardown(api, found, progress);
    const left = new Set(found.describe());
    const removed = listed.filter((item) => !left.has(item));
    reporter.info(removed.length ? `removed: ${removed.join(", ")}` : "nothing to remove");
    reporter.result({ dryRun: false, removed, failed: [...left] });
    return left.size > 0 ? EXIT.failed : EXIT.ok;
  } finally {
    deadline.cancel();
    await clients.close();
  }
}

/** The flags, checked before any cloud call. @throws ConfigError listing every problem. */
function sweepRequest(flags: ParsedFlags): SweepRequest {
  const problems: Problem[] = [];
  const project = flags.get("project");
  if (project === undefined || !isProjectId(project)) {
    problems.push({
      field: "--project",
      value: project,
      message: project === undefined ? "is required" : "is not a project id",
      fix: "give the id of the project the builds ran in, e.g. --project my-project",
    });
  }
  /** The value of an optional flag; a value given but not `valid` is a problem. */
  const optionalFlag = (
    name: string,
    valid: (value: string) => boolean,
    problem: { message: string; fix: string },
  ): string | undefined => {
    const value = flags.get(name);
    if (value !== undefined && !valid(value))
      problems.push({ field: `--${name}`, value, ...problem });
    return value;
  };
  const zone = optionalFlag("zone", isZone, {
    message: "is not a zone",
    fix: 'give a zone such as "us-central1-a", or leave it out for every zone',
  });
  const bucket = optionalFlag("bucket", isBucketName, {
    message: "is not a bucket name",
    fix: "give the bucket's name only, without gs://",
  });
  if (flags.has("prefix") && bucket === undefined) {
    problems.push({
      field: "--prefix",
      message: "needs --bucket",
      fix: "give the bucket the prefix is in",
    });
  }
  const olderThan = flags.get("older-than") ?? DEFAULT_OLDER_THAN;
  const olderThanMs = parseAge(olderThan);
  if (olderThanMs === undefined) {
    problems.push({
      field: "--older-than",
      value: olderThan,
      message: "is not an age",
      fix: "write a whole number and a unit s, m, h or d, e.g. 2h or 0s",
    });
  }
  if (problems.length > 0 || olderThanMs === undefined)
    throw new ConfigError("the sweep flags", problems);
  return {
    project: project as string,
    zone,
    bucket,
    prefix: flags.get("prefix"),
    build: flags.get("build"),
    olderThanMs,
    dryRun: flags.has("dry-run"),
  };
}

/** `90s`, `30m`, `2h`, `1d` in milliseconds; undefined when malformed. */
export function parseAge(text: string): number | undefined {
  const m = /^(\d+)([smhd])$/.exec(text.trim());
  return m ? Number(m[1]) * UNITS[m[2]] : undefined;
}

/** Every labelled temporary in scope, old enough, as teardown takes them. */
async function findLeftovers(
  clients: GcpClients,
  request: SweepRequest,
  now: number,
): Promise<Temporaries> {
  const filter = `labels.${TEMPORARY_LABEL_KEYS.managedBy} = "${MANAGED_BY}"`;
  const taken = (labels: Record<string, string> | null | undefined): boolean => {
    const build = labels?.[TEMPORARY_LABEL_KEYS.build];
    return (
      labels?.[TEMPORARY_LABEL_KEYS.managedBy] === MANAGED_BY &&
      build !== undefined &&
      (request.build === undefined || build === request.build) &&
      // At the cutoff itself too: `--older-than 0s` takes what was made this very second.
      createdBefore(labels, now - request.olderThanMs + 1)
    );
  };
  const { project } = request;
  const found = new Temporaries();
  for (const [zone, instance] of await zonal(clients, "instances", request, filter))
    if (instance.name && taken(instance.labels))
      found.add("instances", { project, zone, name: instance.name });
  for (const [zone, disk] of await zonal(clients, "disks", request, filter))
    if (disk.name && taken(disk.labels)) found.add("disks", { project, zone, name: disk.name });
  const [images] = await clients.images.list({ project, filter }, { autoPaginate: true });
  for (const image of images)
    if (image.name && taken(image.labels)) found.add("images", { project, name: image.name });
  if (request.bucket !== undefined) {
    const [files] = await clients.storage
      .bucket(request.bucket)
      .getFiles({ prefix: request.prefix, autoPaginate: true });
    for (const file of files)
      if (taken(file.metadata.metadata as Record<string, string> | undefined))
        found.add("objects", { bucket: request.bucket, name: file.name });
  }
  return found;
}

type Labelled = { name?: string | null; labels?: Record<string, string> | null };

/** Instances or disks with their zones: of one zone, or of every zone (aggregated list). */
async function zonal(
  clients: GcpClients,
  kind: "instances" | "disks",
  request: SweepRequest,
  filter: string,
): Promise<Array<[string, Labelled]>> {
  const { project, zone } = request;
  if (zone !== undefined) {
    const [items] = (await clients[kind].list(
      { project, zone, filter },
      { autoPaginate: true },
    )) as unknown as [Labelled[]];
    return items.map((item) => [zone, item]);
  }
  const all: Array<[string, Labelled]> = [];
  const pages = clients[kind].aggregatedListAsync({ project, filter }) as AsyncIterable<
    [string, Record<string, Labelled[] | undefined>]
  >;
  for await (const [scope, list] of pages) {
    const zoneName = scope.replace(/^zones\//, "");
    for (const item of list[kind] ?? []) all.push([zoneName, item]);
  }
  return all;
}
