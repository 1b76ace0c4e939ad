/** Thrown when a build's deadline passes; names what was being waited for. */
export class DeadlineExceededError extends Error {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`the build timed out after ${Math.round(timeoutMs / 60_000)} minutes while ${what}`);
    this.name = "DeadlineExceededError";
  }
}

/**
 * A point in time after which the build gives up, with an AbortSignal that fires then, so that
 * sleeps and polls stop at once instead of at their next tick.
 */
export class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  readonly at: number;

  constructor(
    readonly timeoutMs: number,
    now = Date.now(),
  ) {
    this.at = now + timeoutMs;
    this.timer = setTimeout(() => this.controller.abort(), timeoutMs);
    this.timer.unref();
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

  /** Throws {@link DeadlineExceededError} if the deadline has passed. */
  check(what: string): void {
    if (this.expired) throw new DeadlineExceededError(what, this.timeoutMs);
  }

  /** Stops the timer (the build is over). */
  cancel(): void {
    clearTimeout(this.timer);
  }
}
