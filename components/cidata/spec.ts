/** What the caller asks to put on the CIDATA disk. */

/** One thing to put on the disk: a local file, a local directory tree, or bytes held in memory. */
export interface CidataEntry {
  /**
   * Destination inside the filesystem, "/"-separated, with no leading slash, no empty, "." or ".."
   * segment, for example "context/scripts/a.sh" or "user-data". Missing parent directories are
   * created. Every segment must be a valid FAT long name (see {@link CidataSpec}).
   */
  path: string;
  /**
   * Where the content comes from:
   * - `{ file }`: a local file (symlinks are followed), copied to `path`;
   * - `{ directory }`: a local directory, copied recursively so that its children land under `path`
   *   (symlinks are followed: a link to a directory is copied as a directory, a loop is an error).
   *   Several entries may fill the same directory as long as no two names collide;
   * - `{ content }`: in-memory content for small files such as user-data or config values; a string
   *   is written as UTF-8.
   */
  source: { file: string } | { directory: string } | { content: string | Uint8Array };
}

/**
 * The content and shape of a CIDATA disk.
 *
 * Names follow FAT's rules: at most 255 UTF-16 units, none of `" * / : < > ? \ |` nor control
 * characters, no trailing dot or space, and no two names in one directory that differ only in case
 * (FAT compares names case-insensitively). Any Unicode is allowed otherwise.
 */
export interface CidataSpec {
  /** The files and directories to put on the disk. May be empty (an empty, labelled volume). */
  entries: CidataEntry[];
  /**
   * Volume label, 1 to 11 characters from A-Z, 0-9, space and `! # $ % & ' ( ) - @ ^ _ \` { } ~`,
   * not starting with a space. Default: "CIDATA", the label cloud-init's NoCloud datasource looks
   * for.
   */
  label?: string;
  /**
   * Size of disk.raw (and so of the GCE disk made from it) in bytes: a whole number of GiB, from
   * 1 GiB to 2047 GiB (FAT32's limit with 512-byte sectors). Default: the smallest whole number of
   * GiB that holds the content.
   */
  diskSizeBytes?: number;
}

/** The label cloud-init's NoCloud datasource looks for. */
export const DEFAULT_LABEL = "CIDATA";
