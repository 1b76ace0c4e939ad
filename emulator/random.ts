/** A small seedable pseudo-random generator, so fault injection and ids repeat for a given seed. */

/** A generator of floats in [0, 1). */
export type Random = () => number;

/**
 * mulberry32: a 32-bit state generator with good enough spread for picking which requests fail.
 * Not for anything secret.
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
