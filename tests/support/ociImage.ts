/**
 * Small OCI images made from local files, for the test registry (tests/support/registry.ts): one
 * gzip layer (optionally a static busybox, a marker file naming the image, and the caller's files),
 * an image config and a manifest. Everything is built in memory and is deterministic: the same
 * request gives the same digests on every machine, and nothing comes from the network.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { tarArchive, type TarEntry } from "./tarArchive";

/** Media types of what {@link buildOciImage} makes (those of the OCI image specification). */
export const OCI_MEDIA_TYPES = {
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

/** Where Debian's `busybox-static` package installs its static busybox. */
export const BUSYBOX_STATIC = "/bin/busybox";

/** The marker file every image has, holding `<repository>:<tag>` and a newline. */
export const IMAGE_MARKER_PATH = "etc/pci-test-image";

/** What an image holds. */
export interface OciImageContent {
  /** Repository and tag written into the marker file ({@link IMAGE_MARKER_PATH}). */
  marker: string;
  /**
   * Extra files (relative path → content), created with their parent directories; mode 0644.
   * Default: none.
   */
  files?: Readonly<Record<string, string>>;
  /**
   * Whether the image holds `bin/busybox` (copied from {@link BUSYBOX_STATIC}) with `bin/sh` linking
   * to it, so that `docker run IMAGE sh -c ...` works in a guest. Default: true. Needs the
   * `busybox-static` package when true.
   */
  busybox?: boolean;
}

/** One content-addressed blob. */
export interface OciBlob {
  /** `sha256:<hex>` of {@link bytes}. */
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

/** A built image: its blobs and its manifest, ready to push. */
export interface OciImage {
  /** The manifest's bytes, exactly as pushed (its digest is the image's digest). */
  manifest: OciBlob;
  /** The image config (its digest is what docker shows as the image ID). */
  config: OciBlob;
  /** The single layer. */
  layer: OciBlob;
}

/** `sha256:<hex>` of `bytes`. */
export function sha256Digest(bytes: Buffer): string {
  return "sha256:" + createHash("sha256").update(bytes).digest("hex");
}

/** Builds the image described by `content`. */
export function buildOciImage(content: OciImageContent): OciImage {
  const tar = tarArchive(layerEntries(content));
  // Node writes no name and a zero mtime in the gzip header: deterministic bytes.
  const layerBytes = gzipSync(tar, { level: 6 });
  const layer = blob(OCI_MEDIA_TYPES.layer, layerBytes);
  const configJson = {
    architecture: "amd64",
    os: "linux",
    created: "1970-01-01T00:00:00Z",
    config: {
      Env: ["PATH=/bin"],
      Cmd: content.busybox === false ? [] : ["/bin/sh"],
      Labels: { "org.opencontainers.image.title": content.marker },
    },
    rootfs: { type: "layers", diff_ids: [sha256Digest(tar)] },
    history: [{ created: "1970-01-01T00:00:00Z", created_by: "preloaded-cos-image tests" }],
  };
  const config = blob(OCI_MEDIA_TYPES.config, Buffer.from(JSON.stringify(configJson), "utf8"));
  const manifestJson = {
    schemaVersion: 2,
    mediaType: OCI_MEDIA_TYPES.manifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.bytes.length },
    layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.bytes.length }],
  };
  const manifest = blob(
    OCI_MEDIA_TYPES.manifest,
    Buffer.from(JSON.stringify(manifestJson), "utf8"),
  );
  return { manifest, config, layer };
}

function blob(mediaType: string, bytes: Buffer): OciBlob {
  return { digest: sha256Digest(bytes), mediaType, bytes };
}

/** The layer's entries: directories before what they hold, sorted, so the order is stable. */
function layerEntries(content: OciImageContent): TarEntry[] {
  const files = new Map<string, Buffer>();
  files.set(IMAGE_MARKER_PATH, Buffer.from(`${content.marker}\n`, "utf8"));
  for (const [relative, text] of Object.entries(content.files ?? {})) {
    const normalized = path.posix.normalize(relative);
    if (normalized.startsWith("/") || normalized.startsWith("..") || normalized === ".") {
      throw new Error(`image file "${relative}": a path relative to the image root is needed`);
    }
    files.set(normalized, Buffer.from(text, "utf8"));
  }
  const directories = new Set<string>();
  const addParents = (file: string): void => {
    for (let dir = path.posix.dirname(file); dir !== "."; dir = path.posix.dirname(dir)) {
      directories.add(dir);
    }
  };
  for (const file of files.keys()) addParents(file);
  const entries: TarEntry[] = [];
  if (content.busybox !== false) {
    directories.add("bin");
    entries.push(
      { kind: "file", path: "bin/busybox", content: staticBusybox(), mode: 0o755 },
      { kind: "symlink", path: "bin/sh", target: "busybox" },
    );
  }
  for (const [file, bytes] of files) entries.push({ kind: "file", path: file, content: bytes });
  for (const dir of directories) entries.push({ kind: "directory", path: dir });
  // Sorting by path puts every directory before its contents ("bin" < "bin/busybox").
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The bytes of {@link BUSYBOX_STATIC}, checked to be a statically linked ELF: Debian's `busybox`
 * package (which conflicts with `busybox-static`) installs a dynamically linked one at the same
 * path, which could not run in an image without a C library.
 */
function staticBusybox(): Buffer {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(BUSYBOX_STATIC);
  } catch {
    throw new Error(
      `${BUSYBOX_STATIC} is missing. On Debian/Ubuntu: apt-get install busybox-static`,
    );
  }
  if (hasInterpreter(bytes)) {
    throw new Error(
      `${BUSYBOX_STATIC} is dynamically linked (Debian's busybox package); the test images need a static one. On Debian/Ubuntu: apt-get install busybox-static`,
    );
  }
  return bytes;
}

/** Whether a 64-bit little-endian ELF file names a program interpreter (PT_INTERP): dynamic linking. */
function hasInterpreter(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) {
    throw new Error(`${BUSYBOX_STATIC} is not a 64-bit little-endian ELF executable`);
  }
  const programHeaders = Number(elf.readBigUInt64LE(32));
  const entrySize = elf.readUInt16LE(54);
  const count = elf.readUInt16LE(56);
  for (let index = 0; index < count; index++) {
    const offset = programHeaders + index * entrySize;
    if (offset + 4 > elf.length) break;
    if (elf.readUInt32LE(offset) === 3) return true;
  }
  return false;
}
