/** Small promise helpers of the tests. */

/** The error a call rejected with (fails the test when it resolved). */
export async function rejection(
  promise: Promise<unknown>,
): Promise<Error & { code?: number; httpStatusCode?: number }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: number; httpStatusCode?: number };
  }
  throw new Error("expected the call to fail");
}

/** Polls `check` every few milliseconds until it returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
