/** Thrown when a build's deadline passes; names what was being waited for. */
export class DeadlineExceededError extends Error {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`the build timed out after ${spanOf(timeoutMs)} while ${what}`);
    this.name = "DeadlineExceededError";
  }
}

/** A timeout in words: whole minutes, or seconds below one minute (only tests set such short ones). */
function spanOf(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} seconds`;
  const minutes = Math.round(ms / 60_000);
  return minutes === 1 ? "1 minute" : `${minutes} minutes`;
}

/** Thrown when the caller cancels a build (an AbortSignal, Ctrl-C in the command); names what was under way. */
export class BuildCancelledError extends Error {
  constructor(readonly what: string) {
    super(`the build was cancelled while ${what}`);
    this.name = "BuildCancelledError";
  }
}

/**
 * A point in time after which the build gives up, with an AbortSignal that fires then (or when the
 * caller cancels), so that sleeps and polls stop at once instead of at their next tick.
 */
export class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly stopListening: () => void = () => undefined;
  readonly at: number;

  constructor(
    readonly timeoutMs: number,
    now = Date.now(),
    /** Cancels the build when it fires: {@link check} then throws {@link BuildCancelledError}. */
    private readonly cancellation?: AbortSignal,
  ) {
    this.at = now + timeoutMs;
    this.timer = setTimeout(() => this.controller.abort(), timeoutMs);
    this.timer.unref();
    if (cancellation) {
      const abort = (): void => this.controller.abort();
      if (cancellation.aborted) abort();
      cancellation.addEventListener("abort", abort, { once: true });
      this.stopListening = () => cancellation.removeEventListener("abort", abort);
    }
  }

  /** Fires when the deadline passes (or {@link cancel} is called). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Milliseconds left (never negative). */
  remainingMs(): number {
    return Math.max(0, this.at - Date.now());
  }

  /** True once the deadline has passed. */
  get expired(): boolean {
    return this.remainingMs() === 0 || this.controller.signal.aborted;
  }

  /** Throws {@link BuildCancelledError} once cancelled, {@link DeadlineExceededError} once the deadline has passed. */
  check(what: string): void {
    if (this.cancellation?.aborted) throw new BuildCancelledError(what);
    if (this.expired) throw new DeadlineExceededError(what, this.timeoutMs);
  }

  /** Stops the timer (the build is over). */
  cancel(): void {
    clearTimeout(this.timer);
    this.stopListening();
  }
}
