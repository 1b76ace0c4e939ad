import { createHash, randomBytes } from "node:crypto";
import { MAX_NAME_LENGTH } from "./google/names";

/**
 * Names of what the component creates. Output images get a fresh random suffix per build, so that a
 * replacement can be created before the old image is deleted; temporaries are named after the build
 * id, so every one of them visibly belongs to one build.
 */

/** Value of the `managed-by` label on everything the component creates. */
export const MANAGED_BY = "preloaded-cos-image";

/** Labels on every temporary resource and object; values identify the build and its owner. */
export const TEMPORARY_LABEL_KEYS = {
  managedBy: "managed-by",
  build: "pci-build",
  owner: "pci-owner",
  createdAt: "pci-created",
} as const;

/**
 * Label of the output image that records what it was built from: the start of the build's content
 * hash (a label value holds at most 63 characters). Equal labels mean the same inputs, so a build
 * whose fixed-name image already carries its label has nothing to do.
 */
export const CONTENT_LABEL_KEY = "pci-content";

/** The {@link CONTENT_LABEL_KEY} value of a content hash: its first 40 hex digits (160 bits). */
export function contentLabelOf(contentHash: string): string {
  return contentHash.slice(0, 40);
}

/**
 * Turns any text into the start of a GCE name: lowercase, `[-a-z0-9]`, starting with a letter, at
 * most `maxLength` characters, no trailing hyphen. Falls back to `image`.
 */
export function toNamePrefix(text: string, maxLength = MAX_NAME_LENGTH - 9): string {
  const cleaned = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .slice(0, maxLength)
    .replace(/-+$/, "");
  return cleaned || "image";
}

/** A fresh output image name: `<prefix>-<8 random hex digits>`. */
export function generateImageName(prefix: string): string {
  return `${toNamePrefix(prefix)}-${randomBytes(4).toString("hex")}`;
}

/**
 * Identifies one component instance across builds (its project, stack and name), as a label value:
 * every temporary of its builds carries it, so leftovers of killed builds can be found and swept.
 */
export function ownerIdOf(project: string, stack: string, componentName: string): string {
  return createHash("sha256")
    .update(`${project}\0${stack}\0${componentName}`)
    .digest("hex")
    .slice(0, 16);
}

/** A fresh build id: 10 characters of `[a-z0-9]` starting with a letter (usable in names and labels). */
export function generateBuildId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = randomBytes(10);
  let id = alphabet[bytes[0] % 26];
  for (let i = 1; i < bytes.length; i++) id += alphabet[bytes[i] % alphabet.length];
  return id;
}

/** Name of a temporary resource of a build: `pci-<buildId>-<role>` (always a valid GCE name). */
export function temporaryName(buildId: string, role: "vm" | "boot" | "cidata" | "scratch"): string {
  return `pci-${buildId}-${role}`;
}
