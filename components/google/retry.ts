import { setTimeout as sleep } from "node:timers/promises";
import { Deadline } from "./deadline";
import { isTransient } from "./errors";

/** Backoff of API retries: exponential from `initialMs`, capped at `maxMs`, with full jitter. */
export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
  /** Attempts in all (the first call included). */
  maxAttempts: number;
}

/** Daisy retries 3 times at 1–2 s; we allow more, because a build is long and quotas refill each minute. */
export const DEFAULT_RETRY: RetryPolicy = { initialMs: 500, maxMs: 16_000, maxAttempts: 8 };

/**
 * Runs `call`, retrying transient failures (429, 5xx, rate limits, dropped connections) with jittered
 * exponential backoff until it succeeds, fails for good, or the deadline passes. Callers make retries
 * safe: inserts carry a fixed `requestId`.
 */
export async function withRetry<T>(
  what: string,
  call: () => Promise<T>,
  deadline: Deadline,
  policy: RetryPolicy = DEFAULT_RETRY,
  onRetry?: (attempt: number, error: unknown, delayMs: number) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    deadline.check(what);
    try {
      return await call();
    } catch (error) {
      if (!isTransient(error) || attempt >= policy.maxAttempts) throw error;
      const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** (attempt - 1));
      const delayMs = Math.min(
        Math.round(ceiling / 2 + Math.random() * (ceiling / 2)),
        deadline.remainingMs(),
      );
      onRetry?.(attempt, error, delayMs);
      // An aborted sleep means the deadline passed: report that, not the abort.
      await sleep(Math.max(0, delayMs), undefined, { signal: deadline.signal }).catch(
        () => undefined,
      );
    }
  }
}
