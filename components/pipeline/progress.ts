/**
 * Progress of a build, for the person watching `pulumi up`. A dynamic provider has no engine
 * connection, but the engine passes its standard output through as diagnostics, so milestones and
 * the provisioner's `BuildStatus:` lines are printed there, each with the build's name and age.
 */
export interface Progress {
  /** A milestone or a status line. */
  info(message: string): void;
  /** Something the user should look at, though the build goes on (a cleanup that failed, say). */
  warn(message: string): void;
  /** The build drew its id (optional: `buildImage`'s event stream uses it). */
  started?(buildId: string): void;
  /** A phase of the build starts (optional: the event stream). */
  phase?(phase: string): void;
  /** One line the guest wrote on serial port 3, as it was (optional: the event stream). */
  serialLine?(line: string): void;
}

/** Progress printed to a stream (default: standard output), prefixed with the component name and elapsed time. */
export function streamProgress(
  name: string,
  write: (line: string) => void = (line) => process.stdout.write(line),
): Progress {
  const started = Date.now();
  const prefix = (level: string): string =>
    `[preloaded-cos-image ${name}] ${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s ${level}`;
  return {
    info: (message) => write(`${prefix("")}${message}\n`),
    warn: (message) => write(`${prefix("warning: ")}${message}\n`),
  };
}

/**
 * Progress that records lines in memory (tests, benchmarks).
 *
 * @internal
 */
export function recordingProgress(): Progress & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (message) => lines.push(message),
    warn: (message) => lines.push(`warning: ${message}`),
  };
}
