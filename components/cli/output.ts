import type { BuildImageEvent } from "../buildImage";

/**
 * What the command writes: progress on stderr, as human lines with elapsed seconds or, with
 * `--json`, as one JSON object a line; results as JSON on stdout, so `$(...)` or `jq` can read them.
 */

/** Where output goes (process streams, or test doubles). */
export interface OutputStreams {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** The final line of `--json`: the result, or the error with its exit code. */
export type FinalEvent =
  | { type: "result"; result: unknown; elapsedMs: number }
  | ({
      type: "error";
      exitCode: number;
      error: string;
      message: string;
      elapsedMs: number;
    } & Record<string, unknown>);

/** Progress and results of one run of the command. */
export class Reporter {
  private readonly started = Date.now();

  constructor(
    /** One JSON object a line on stderr instead of human lines. */
    readonly json: boolean,
    private readonly streams: OutputStreams = process,
  ) {}

  /** Milliseconds since the command started. */
  elapsedMs(): number {
    return Date.now() - this.started;
  }

  /** A build event, as it happens. */
  event(event: BuildImageEvent): void {
    if (this.json) return this.line(event);
    if (event.type === "started") return; // the progress line "build <id>: ..." follows at once
    const text =
      event.type === "phase"
        ? `phase: ${event.phase}`
        : event.type === "serial"
          ? `| ${event.line}`
          : event.level === "warning"
            ? `warning: ${event.message}`
            : event.message;
    this.human(text);
  }

  /** A message of the command itself (not of the build), as a progress event. */
  info(message: string, level: "info" | "warning" = "info"): void {
    this.event({ type: "progress", level, message, elapsedMs: this.elapsedMs() });
  }

  /** The result: JSON on stdout; with `--json`, also the final `result` line on stderr. */
  result(result: unknown): void {
    this.streams.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (this.json) this.line({ type: "result", result, elapsedMs: this.elapsedMs() });
  }

  /** The error that ends the run: a human message, or the final `error` line. */
  error(exitCode: number, error: Error, extra: Record<string, unknown> = {}): void {
    if (this.json) {
      this.line({
        type: "error",
        exitCode,
        error: error.name,
        message: error.message,
        elapsedMs: this.elapsedMs(),
        ...extra,
      });
    } else {
      this.streams.stderr.write(`error: ${error.message}\n`);
    }
  }

  /** `--help`: on stdout, as help texts go. */
  help(text: string): void {
    this.streams.stdout.write(text);
  }

  /** Text for humans only (usage, notes); never JSON-wrapped. */
  plain(text: string): void {
    this.streams.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  private human(text: string): void {
    const seconds = (this.elapsedMs() / 1000).toFixed(1).padStart(6);
    this.streams.stderr.write(`[${seconds}s] ${text}\n`);
  }

  private line(value: object): void {
    this.streams.stderr.write(`${JSON.stringify(value)}\n`);
  }
}
