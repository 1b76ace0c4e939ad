import type { Problem } from "./problems";

/**
 * "Did you mean ...?" for misspelt keys: the nearest valid key by edit distance, so that a typo such
 * as `sourceImageFamly` is an error that points at `sourceImageFamily` instead of a silent default.
 */

/**
 * Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
 * neighbours each cost 1 (a swap is the commonest typo, so it counts once, not twice).
 */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) rows.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, rows[i - 2][j - 2] + 1);
      }
      rows[i][j] = best;
    }
  }
  return rows[a.length][b.length];
}

/**
 * The valid key nearest to `key`, or undefined when none is close enough to be a plausible typo
 * (a case-only difference always is; otherwise at most a third of the key's length, and at least 2).
 */
export function nearestKey(key: string, valid: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const sameButCase = valid.find((candidate) => candidate.toLowerCase() === lower);
  if (sameButCase) return sameButCase;
  const limit = Math.max(2, Math.floor(key.length / 3));
  let best: { key: string; distance: number } | undefined;
  for (const candidate of valid) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance <= limit && (best === undefined || distance < best.distance)) {
      best = { key: candidate, distance };
    }
  }
  return best?.key;
}

/** The fix of an unknown key: the nearest valid one when there is one, then every valid key. */
export function unknownKeyFix(key: string, valid: readonly string[], what: string): string {
  const nearest = nearestKey(key, valid);
  const all = `${what}: ${valid.join(", ")}`;
  return nearest ? `did you mean ${nearest}? (${all})` : `remove it, or use one of the ${all}`;
}

/**
 * Problems for every key of `object` that is not in `valid` (keys whose value is `undefined` are
 * ignored: object spreads write them, and they set nothing). `field` is the object's path, "" at the
 * top level.
 */
export function unknownKeyProblems(
  field: string,
  object: object,
  valid: readonly string[],
  message: string,
  what: string,
): Problem[] {
  return Object.entries(object)
    .filter(([key, value]) => value !== undefined && !valid.includes(key))
    .map(([key]) => ({
      field: field === "" ? key : `${field}.${key}`,
      message,
      fix: unknownKeyFix(key, valid, what),
    }));
}
