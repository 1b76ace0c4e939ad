/**
 * What a change to a resource means, for the resources the local engine diffs itself (those that
 * are not dynamic), and why an image build is replaced, in words a user can act on.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { canonicalJson } from "../components/pipeline/contentHash";
import { ARGS_OUTSIDE_THE_HASH } from "../components/pipeline/hashedArgs";

/** What the engine does with a registration, as `pulumi preview` shows it. */
export type Operation = "create" | "same" | "update" | "replace";

/** A registration's operation and its reasons (the inputs that changed). */
export interface Change {
  /** The operation. */
  operation: Operation;
  /** Why: empty for `create` and `same`. */
  reasons: string[];
  /** For `replace`: the old copy goes first (a fixed name cannot exist twice). */
  deleteBeforeReplace?: boolean;
  /** The top-level inputs that changed (set by {@link diffInputs}). */
  properties?: string[];
}

/**
 * Types whose every input is immutable in Compute Engine: any change replaces them (as the gcp
 * provider marks them ForceNew). Everything else is updated in place.
 */
const REPLACED_ON_ANY_CHANGE = new Set([
  "gcp:compute/instanceTemplate:InstanceTemplate",
  "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
  "gcp:compute/image:Image",
]);

/** What the preview shows for a value only known after the update. */
export const KNOWN_AFTER_UPDATE = "(known after update)";

/** `value` with Pulumi's unknowns (outputs of resources not created yet) as {@link KNOWN_AFTER_UPDATE}. */
export function withUnknownsShown(value: unknown): unknown {
  if (pulumi.isUnknown(value)) return KNOWN_AFTER_UPDATE;
  if (Array.isArray(value)) return value.map(withUnknownsShown);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, child]) => [key, withUnknownsShown(child)]),
    );
  }
  return value;
}

/** The engine's own diff of a resource that is not dynamic: old inputs against new ones. */
export function diffInputs(
  type: string,
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
): Change {
  const shown = withUnknownsShown(news) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(olds), ...Object.keys(shown)])].sort();
  const changed = keys.filter(
    (key) =>
      canonicalJson(olds[key] ?? null) !== canonicalJson(shown[key] ?? null) ||
      canonicalJson(shown[key] ?? null).includes(KNOWN_AFTER_UPDATE),
  );
  if (changed.length === 0) return { operation: "same", reasons: [] };
  const reasons = changed.map((key) =>
    canonicalJson(shown[key] ?? null).includes(KNOWN_AFTER_UPDATE)
      ? `${key} changed (it takes an output that is replaced)`
      : `${key} changed`,
  );
  return {
    operation: REPLACED_ON_ANY_CHANGE.has(type) ? "replace" : "update",
    reasons,
    properties: changed,
  };
}

/** The arguments of an image build that its content hash covers through `args`. */
interface BuildState {
  args?: Record<string, unknown>;
  programDir?: string;
  sourceImage?: string;
}

/**
 * Why an image build's content hash changed, input by input: the local files that fed it (from
 * their digests), the resolved source image, and the arguments. When none of those changed, the
 * change is in what the engine cannot see (a secret value, the package's guest code).
 */
export function contentHashReasons(
  olds: BuildState,
  news: BuildState,
  oldFiles: Record<string, string> | undefined,
  newFiles: Record<string, string>,
): string[] {
  const reasons: string[] = [];
  if (oldFiles) {
    const paths = [...new Set([...Object.keys(oldFiles), ...Object.keys(newFiles)])].sort();
    for (const file of paths) {
      if (oldFiles[file] === newFiles[file]) continue;
      const how =
        oldFiles[file] === undefined
          ? "was added"
          : newFiles[file] === undefined
            ? "was removed"
            : "changed";
      reasons.push(`${file} ${how}`);
    }
  }
  if (olds.sourceImage !== news.sourceImage) {
    reasons.push(`the source image changed: ${olds.sourceImage} -> ${news.sourceImage}`);
  }
  const oldArgs = olds.args ?? {};
  const newArgs = news.args ?? {};
  for (const key of [...new Set([...Object.keys(oldArgs), ...Object.keys(newArgs)])].sort()) {
    // The product's own list: an argument the hash ignores is no reason for a replacement.
    if ((ARGS_OUTSIDE_THE_HASH as ReadonlySet<string>).has(key)) continue;
    if (canonicalJson(oldArgs[key] ?? null) !== canonicalJson(newArgs[key] ?? null)) {
      reasons.push(`args.${key} changed`);
    }
  }
  if (reasons.length === 0) {
    reasons.push(
      "an input the local engine cannot show changed (a secret value or the guest code)",
    );
  }
  return reasons.map((reason) => `the content hash changed: ${reason}`);
}

/**
 * The digest of each local file an image build reads: every file of its build context
 * (`buildContext/<relative path>`) and each of its extra files (`extraFiles.<destination>`).
 * Missing paths are skipped: the build's own check reports them.
 */
export async function buildFileDigests(news: BuildState): Promise<Record<string, string>> {
  const digests: Record<string, string> = {};
  const baseDir = news.programDir ?? ".";
  const context = news.args?.buildContext;
  if (typeof context === "string") {
    const root = path.resolve(baseDir, context);
    for (const file of await listFiles(root)) {
      digests[`buildContext/${path.relative(root, file).split(path.sep).join("/")}`] =
        await digestOf(file);
    }
  }
  const extraFiles = news.args?.extraFiles;
  if (extraFiles && typeof extraFiles === "object") {
    for (const [destination, source] of Object.entries(extraFiles as Record<string, unknown>)) {
      if (typeof source !== "string") continue;
      const digest = await digestOf(path.resolve(baseDir, source)).catch(() => undefined);
      if (digest) digests[`extraFiles.${destination}`] = digest;
    }
  }
  return digests;
}

async function listFiles(directory: string): Promise<string[]> {
  const entries = await fs.readdir(directory, { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(full)));
    else if (entry.isFile()) files.push(full);
  }
  return files;
}

async function digestOf(file: string): Promise<string> {
  return createHash("sha256")
    .update(await fs.readFile(file))
    .digest("hex");
}
