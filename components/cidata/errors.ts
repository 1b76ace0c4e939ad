/** Where a {@link CidataError} points: the user's file and/or its place on the CIDATA disk. */
export interface CidataErrorLocation {
  /** The local file or directory at fault, as given or as found while walking a directory. */
  localPath?: string;
  /** The destination inside the FAT filesystem ("/"-separated), or the spec field at fault. */
  destinationPath?: string;
}

/**
 * Bad input for the CIDATA disk: a missing or unreadable path, a name FAT cannot hold, a collision,
 * a file too large, a symlink loop, a disk too small, or a file that changed after planning.
 *
 * The message names the path and says how to fix it; the paths are also kept as fields so callers
 * can map the error back onto their own argument names.
 */
export class CidataError extends Error {
  /** The local file or directory at fault, when the error is about one. */
  readonly localPath?: string;
  /** The destination inside the FAT filesystem (or the spec field) at fault, when known. */
  readonly destinationPath?: string;

  constructor(message: string, location: CidataErrorLocation = {}) {
    super(`cidata: ${describeLocation(location)}${message}`);
    this.name = "CidataError";
    this.localPath = location.localPath;
    this.destinationPath = location.destinationPath;
  }
}

function describeLocation({ localPath, destinationPath }: CidataErrorLocation): string {
  const parts: string[] = [];
  if (destinationPath !== undefined) parts.push(JSON.stringify(destinationPath));
  if (localPath !== undefined) parts.push(`(local path ${JSON.stringify(localPath)})`);
  return parts.length > 0 ? `${parts.join(" ")}: ` : "";
}
