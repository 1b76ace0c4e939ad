/**
 * FAT file names: what a VFAT long name may hold, how names compare (case-insensitively, as FAT
 * directories do), and the 8.3 short alias every entry carries beside its long name.
 */

/** VFAT long names hold at most 255 UTF-16 code units. */
export const MAX_LONG_NAME_UNITS = 255;

/** Characters that FAT long names may not contain (besides control characters, checked apart). */
const FORBIDDEN_LONG_NAME_CHARACTERS = '"*/:<>?\\|';

/** Characters allowed in an 8.3 short name besides A-Z and 0-9 (ASCII only: no code page guesses). */
const SHORT_NAME_PUNCTUATION = "!#$%&'()-@^_`{}~";

const EXACT_SHORT_NAME = /^[A-Z0-9!#$%&'()\-@^_`{}~]{1,8}(?:\.[A-Z0-9!#$%&'()\-@^_`{}~]{1,3})?$/;

/**
 * Returns why `name` cannot be a VFAT long name, or undefined when it can.
 * The reasons are worded to follow "the name ...".
 */
export function longNameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (name === "." || name === "..") return "is reserved";
  if (name.length > MAX_LONG_NAME_UNITS) {
    return `is ${name.length} UTF-16 units long; FAT long names hold at most ${MAX_LONG_NAME_UNITS}`;
  }
  for (const character of name) {
    const code = character.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) {
      return `contains the control character U+${code.toString(16).padStart(4, "0").toUpperCase()}`;
    }
    if (FORBIDDEN_LONG_NAME_CHARACTERS.includes(character)) {
      return `contains "${character}", which FAT names cannot hold (none of ${FORBIDDEN_LONG_NAME_CHARACTERS})`;
    }
  }
  // Windows and Linux's vfat drop trailing dots and spaces, so such a name would not round-trip.
  if (/[. ]$/.test(name)) return "ends with a dot or a space, which FAT drops";
  // A lone surrogate cannot be written as valid UTF-16 nor read back as UTF-8.
  if (/\p{Cs}/u.test(name)) return "contains an unpaired UTF-16 surrogate";
  return undefined;
}

/**
 * The key under which FAT compares names: each UTF-16 unit upper-cased on its own, like the up-case
 * table of Windows and the Linux vfat driver. Two names with the same key cannot share a directory.
 */
export function caseFoldKey(name: string): string {
  let key = "";
  for (const unit of name) {
    const upper = unit.toUpperCase();
    // Only one-to-one mappings: "ß" stays "ß" (not "SS"), as in FAT's per-character up-case table.
    key += upper.length === unit.length ? upper : unit;
  }
  return key;
}

/** True when `name` is already a valid upper-case 8.3 name, so it needs no long-name entries. */
export function isExactShortName(name: string): boolean {
  return EXACT_SHORT_NAME.test(name);
}

/** An 8.3 short name as stored in a directory entry: 8 bytes of base and 3 of extension, space-padded. */
export function shortNameBytes(shortName: string): Uint8Array {
  const dot = shortName.indexOf(".");
  const base = dot === -1 ? shortName : shortName.slice(0, dot);
  const extension = dot === -1 ? "" : shortName.slice(dot + 1);
  return Uint8Array.from(Buffer.from(base.padEnd(8, " ") + extension.padEnd(3, " "), "latin1"));
}

/** The checksum of a short name that ties each long-name entry to its short entry. */
export function shortNameChecksum(stored: Uint8Array): number {
  let sum = 0;
  for (const byte of stored) sum = (((sum & 1) << 7) + (sum >> 1) + byte) & 0xff;
  return sum;
}

/** The basis of a short alias before any numeric tail is added ("~1"). */
interface AliasBasis {
  base: string;
  extension: string;
  /** Whether the alias can be used as is: the long name, upper-cased, is exactly base.ext. */
  fitsAsIs: boolean;
}

function shortNameCharacter(character: string): { mapped: string; lossy: boolean } {
  const upper = character.toUpperCase();
  if (/^[A-Z0-9]$/.test(upper) || SHORT_NAME_PUNCTUATION.includes(upper)) {
    return { mapped: upper, lossy: false };
  }
  // Non-ASCII letters and the characters 8.3 forbids (+,;=[]) become "_", as Windows does.
  return { mapped: "_", lossy: true };
}

function aliasBasis(longName: string): AliasBasis {
  const lastDot = longName.lastIndexOf(".");
  const hasExtension = lastDot > 0;
  const stem = hasExtension ? longName.slice(0, lastDot) : longName;
  const suffix = hasExtension ? longName.slice(lastDot + 1) : "";
  let lossy = false;
  const convert = (text: string): string => {
    let out = "";
    for (const character of text) {
      // Spaces and dots are dropped from the basis; leading dots (".bashrc") with them.
      if (character === " " || character === ".") {
        lossy = true;
        continue;
      }
      const { mapped, lossy: lost } = shortNameCharacter(character);
      lossy ||= lost;
      out += mapped;
    }
    return out;
  };
  const fullBase = convert(stem) || "_";
  const fullExtension = convert(suffix);
  const base = fullBase.slice(0, 8);
  const extension = fullExtension.slice(0, 3);
  const fitsAsIs =
    !lossy &&
    base === fullBase &&
    extension === fullExtension &&
    (!hasExtension || extension !== "");
  return { base, extension, fitsAsIs };
}

function joinShortName(base: string, extension: string): string {
  return extension ? `${base}.${extension}` : base;
}

/**
 * Hands out unique 8.3 aliases within one directory. Names that are already valid 8.3 names
 * (upper-case or not) are reserved first, so no generated "~n" alias can take one of them.
 */
export class ShortNameAllocator {
  private readonly taken = new Set<string>();
  /** Next numeric tail to try for each basis, so that allocation stays linear in the entry count. */
  private readonly nextTail = new Map<string, number>();

  /**
   * Allocates aliases for all `longNames` of one directory, in order, and returns them in the same
   * order. Names must already be valid long names and distinct under {@link caseFoldKey}.
   */
  static allocate(longNames: readonly string[]): string[] {
    const allocator = new ShortNameAllocator();
    const bases = longNames.map(aliasBasis);
    const aliases = bases.map((basis) => {
      if (!basis.fitsAsIs) return undefined;
      const alias = joinShortName(basis.base, basis.extension);
      allocator.taken.add(alias);
      return alias;
    });
    return bases.map((basis, index) => aliases[index] ?? allocator.withTail(basis));
  }

  private withTail({ base, extension }: AliasBasis): string {
    const key = joinShortName(base, extension);
    for (let tail = this.nextTail.get(key) ?? 1; ; tail++) {
      const suffix = `~${tail}`;
      if (suffix.length > 7) {
        // ~999999 is the last tail an 8-character base can carry; a FAT directory holds at most
        // 65536 entries, so this is unreachable for any directory that passes planning.
        throw new Error(`no free short alias left for ${key}`);
      }
      const alias = joinShortName(base.slice(0, 8 - suffix.length) + suffix, extension);
      if (!this.taken.has(alias)) {
        this.taken.add(alias);
        this.nextTail.set(key, tail + 1);
        return alias;
      }
    }
  }
}
