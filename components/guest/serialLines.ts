import { MARKERS } from "./protocol";

/**
 * Following serial port 3: GCE keeps the last 1 MB of each port and serves it by byte offset
 * (`start` in, `start` and `next` out). Output arrives in arbitrary chunks, so a line (and a marker)
 * can be split across two reads: partial lines are carried over, as Daisy does. When the requested
 * offset has already fallen out of the window, GCE answers from the window's start; the difference is
 * reported as a gap.
 */

/** One answer of `instances.getSerialPortOutput`. */
export interface SerialChunk {
  contents: string;
  /** Offset of the first byte of `contents` (may be later than requested: a gap). */
  start: number;
  /** Offset to ask for next. */
  next: number;
}

/** What one poll produced. */
export interface SerialPoll {
  /** Complete lines, without line endings. */
  lines: string[];
  /** Bytes lost because they left GCE's 1 MB window before they were read. */
  gapBytes: number;
}

/** Turns successive chunks into complete lines. */
export class SerialLineReader {
  private offset = 0;
  private partial = "";

  /** Offset the next read should start at. */
  get nextOffset(): number {
    return this.offset;
  }

  /** Feeds one chunk read at {@link nextOffset}. */
  push(chunk: SerialChunk): SerialPoll {
    const gapBytes = Math.max(0, chunk.start - this.offset);
    if (gapBytes > 0) this.partial = "";
    this.offset = Math.max(this.offset, chunk.next);
    const text = this.partial + chunk.contents;
    const pieces = text.split("\n");
    this.partial = pieces.pop() ?? "";
    return { lines: pieces.map((line) => line.replace(/\r$/, "")), gapBytes };
  }

  /** The last, unterminated line (for error reports once the VM is gone). */
  rest(): string[] {
    return this.partial ? [this.partial.replace(/\r$/, "")] : [];
  }
}

/** What a line of serial port 3 means for the build. */
export type BuildEvent =
  | {
      kind: "protocol";
      version: number;
      buildId: string;
      /** `boot`: the start script, before CIDATA; `provisioner`: the provisioner itself. */
      stage: "boot" | "provisioner";
    }
  | { kind: "status"; text: string }
  | { kind: "succeeded"; text: string }
  | { kind: "failed"; step: string; reason: string }
  /** `BuildDiskResize: <sizeGb>`; `sizeGb` is NaN when the text is no whole number. */
  | { kind: "diskResize"; sizeGb: number; text: string }
  | { kind: "other"; text: string };

/**
 * Parses one line. Markers count only at the start of a line: the provisioner prefixes everything a
 * user script prints with `BuildStatus: `, so a script that prints "BuildFailed:" cannot end the build.
 */
export function parseBuildLine(line: string): BuildEvent {
  const after = (marker: string): string | undefined =>
    line.startsWith(marker) ? line.slice(marker.length).replace(/^ /, "") : undefined;
  const protocol = after(MARKERS.protocol);
  if (protocol !== undefined) {
    const match = /^(\d+)(?:\s+build=(\S+))?(?:\s+stage=(\S+))?/.exec(protocol);
    return {
      kind: "protocol",
      version: match ? Number(match[1]) : NaN,
      buildId: match?.[2] ?? "",
      stage: match?.[3] === "boot" ? "boot" : "provisioner",
    };
  }
  const status = after(MARKERS.status);
  if (status !== undefined) return { kind: "status", text: status };
  const succeeded = after(MARKERS.succeeded);
  if (succeeded !== undefined) return { kind: "succeeded", text: succeeded };
  const failed = after(MARKERS.failed);
  if (failed !== undefined) {
    const separator = failed.indexOf(": ");
    return separator < 0
      ? { kind: "failed", step: "unknown step", reason: failed }
      : { kind: "failed", step: failed.slice(0, separator), reason: failed.slice(separator + 2) };
  }
  const diskResize = after(MARKERS.diskResize);
  if (diskResize !== undefined) {
    const text = diskResize.trim();
    return { kind: "diskResize", sizeGb: /^\d{1,9}$/.test(text) ? Number(text) : NaN, text };
  }
  return { kind: "other", text: line };
}

/**
 * The step a `BuildStatus:` line says has started, or undefined for other lines: `step 2/3
 * runScript a.sh: started` (printed by the provisioner's `run_step`) or, for the disk layout that a
 * disk-layout step makes before the first step, `step 1/3 extendOemPartition: started (...)` with a
 * note in parentheses (disk-layout.sh).
 */
export function startedStepOf(statusText: string): string | undefined {
  return /^(step \d+\/\d+\b.*?): started(?: \([^()]*\))?$/.exec(statusText)?.[1];
}

/** The step a `BuildStatus:` line says is done (`step 2/3 runScript a.sh: done`), or undefined. */
export function doneStepOf(statusText: string): string | undefined {
  return /^(step \d+\/\d+\b.*): done$/.exec(statusText)?.[1];
}

/** Keeps the last `limit` lines, for error messages. */
export class LastLines {
  private readonly lines: string[] = [];
  constructor(private readonly limit: number) {}

  add(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.limit) this.lines.shift();
  }

  get all(): readonly string[] {
    return this.lines;
  }
}

/** One image the `preloadImages` step pulled, as its status line reports it. */
export interface PulledImage {
  /** The reference as the user gave it. */
  image: string;
  runtime: "containerd" | "docker";
  /** The content digest pulled (`sha256:...`). */
  digest: string;
}

/**
 * Reads the status line by which the provisioner's `preloadImages` step reports a pull
 * (`pulled <image> into <runtime>: <digest>`, printed by `record_image`); undefined for other lines.
 */
export function parsePulledImage(statusText: string): PulledImage | undefined {
  const match = /^pulled (\S+) into (containerd|docker): (sha256:[0-9a-f]{64})$/.exec(statusText);
  return match
    ? { image: match[1], runtime: match[2] as PulledImage["runtime"], digest: match[3] }
    : undefined;
}
