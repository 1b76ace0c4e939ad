/**
 * One serial port of an instance: GCE keeps the last 1 MiB of output, addressed by absolute byte
 * offsets since boot of the instance; reads continue from `next`. The emulator also remembers when
 * each complete line was written, so benchmarks can measure how late a reader saw it.
 */

/** How much output GCE keeps per port. */
export const SERIAL_WINDOW_BYTES = 1024 * 1024;

/** A complete line written to a port, with its write time. */
export interface SerialLine {
  /** The line without its trailing newline. */
  text: string;
  /** Absolute byte offset of the line's first byte. */
  offset: number;
  /** When the line's last byte (its newline) was written, epoch milliseconds (fractional). */
  writtenAt: number;
}

/** The answer to `getSerialPortOutput`. */
export interface SerialRead {
  /** The bytes from `start` to the end of the output, as text. */
  contents: string;
  /** The offset actually returned (moved forward when the requested bytes were discarded). */
  start: number;
  /** The offset to ask for next time. */
  next: number;
}

/** A listener for complete lines. */
export type SerialLineListener = (line: SerialLine) => void;

/** The output of one port. */
export class SerialPortBuffer {
  /** The kept output as written chunks (concatenated only when read). */
  private chunks: Buffer[] = [];
  private keptBytes = 0;
  /** Absolute offset of the first kept byte. */
  private windowStart = 0;
  private partial = "";
  private partialOffset = 0;
  private readonly lines: SerialLine[] = [];
  private readonly listeners = new Set<SerialLineListener>();

  /**
   * @param windowBytes Bytes kept (GCE: 1 MiB).
   * @param maxRememberedLines Lines whose write times are remembered (oldest dropped first).
   */
  constructor(
    private readonly windowBytes = SERIAL_WINDOW_BYTES,
    private readonly maxRememberedLines = 100_000,
  ) {}

  /** Total bytes ever written: the `next` of a read at the end. */
  get totalBytes(): number {
    return this.windowStart + this.keptBytes;
  }

  /** Appends output. */
  write(text: string | Buffer): void {
    const bytes = Buffer.from(typeof text === "string" ? Buffer.from(text, "utf8") : text);
    const offsetBefore = this.totalBytes;
    this.chunks.push(bytes);
    this.keptBytes += bytes.length;
    while (this.keptBytes > this.windowBytes) {
      const excess = this.keptBytes - this.windowBytes;
      const first = this.chunks[0];
      const drop = Math.min(excess, first.length);
      if (drop === first.length) this.chunks.shift();
      else this.chunks[0] = first.subarray(drop);
      this.keptBytes -= drop;
      this.windowStart += drop;
    }
    this.trackLines(bytes.toString("utf8"), offsetBefore);
  }

  /**
   * Reads from `start` like GCE: a start older than the window is moved to the window's start (and
   * reported), a negative start means "the last -start bytes", and a start past the end returns
   * nothing from the end.
   */
  read(start: number): SerialRead {
    const end = this.totalBytes;
    let from = start < 0 ? end + start : start;
    if (from < this.windowStart) from = this.windowStart;
    if (from > end) from = end;
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    const contents = (this.chunks[0] ?? Buffer.alloc(0))
      .subarray(from - this.windowStart)
      .toString("utf8");
    return { contents, start: from, next: end };
  }

  /** Complete lines written so far, with their write times (the last `maxRememberedLines`). */
  writtenLines(): readonly SerialLine[] {
    return this.lines;
  }

  /** Calls `listener` for every complete line written from now on; returns an unsubscribe function. */
  onLine(listener: SerialLineListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private trackLines(text: string, offsetOfText: number): void {
    if (this.partial === "") this.partialOffset = offsetOfText;
    let rest = this.partial + text;
    let lineOffset = this.partialOffset;
    let newline = rest.indexOf("\n");
    while (newline !== -1) {
      const raw = rest.slice(0, newline);
      const line: SerialLine = {
        text: raw.replace(/\r$/, ""),
        offset: lineOffset,
        writtenAt: performance.timeOrigin + performance.now(),
      };
      this.lines.push(line);
      if (this.lines.length > this.maxRememberedLines) this.lines.shift();
      for (const listener of this.listeners) listener(line);
      lineOffset += Buffer.byteLength(raw) + 1;
      rest = rest.slice(newline + 1);
      newline = rest.indexOf("\n");
    }
    this.partial = rest;
    this.partialOffset = lineOffset;
  }
}
