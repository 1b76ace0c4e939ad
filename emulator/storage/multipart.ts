/**
 * A streaming reader for `multipart/related` upload bodies (`uploadType=multipart`): the first part
 * (JSON metadata) is small and buffered, the second part (the object's bytes) is streamed so that
 * large uploads never sit in memory.
 */
import { invalid } from "../http/errors";

const HEADER_END = Buffer.from("\r\n\r\n");
/** Largest metadata part accepted. */
const MAX_METADATA_BYTES = 1024 * 1024;

/** The boundary of a `multipart/related; boundary=...` content type, or undefined. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  const m = /^multipart\/related\s*;(?:.*;)?\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(
    contentType ?? "",
  );
  return m ? (m[1] ?? m[2]) : undefined;
}

/** Reads the parts of one multipart body in order. */
export class MultipartReader {
  private buffer: Buffer = Buffer.alloc(0);
  private ended = false;
  private readonly delimiter: Buffer;

  constructor(
    private readonly source: AsyncIterator<Buffer>,
    boundary: string,
  ) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`);
    // The body starts with the delimiter without its leading CRLF.
    this.buffer = Buffer.from("\r\n");
  }

  /** Reads the next part's headers (lower-cased names); undefined after the closing delimiter. */
  async nextHeaders(): Promise<Record<string, string> | undefined> {
    await this.fillUntil(() => this.buffer.indexOf(this.delimiter) !== -1, MAX_METADATA_BYTES);
    const at = this.buffer.indexOf(this.delimiter);
    if (at === -1) throw invalid("Malformed multipart body: missing boundary.");
    this.buffer = this.buffer.subarray(at + this.delimiter.length);
    await this.fillUntil(() => this.buffer.length >= 2, 2);
    if (this.buffer.subarray(0, 2).toString() === "--") return undefined;
    await this.fillUntil(() => this.buffer.indexOf(HEADER_END) !== -1, MAX_METADATA_BYTES);
    const end = this.buffer.indexOf(HEADER_END);
    if (end === -1) throw invalid("Malformed multipart body: unterminated part headers.");
    const headerText = this.buffer.subarray(0, end).toString("utf8");
    this.buffer = this.buffer.subarray(end + HEADER_END.length);
    const headers: Record<string, string> = {};
    for (const line of headerText.split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0)
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return headers;
  }

  /** Reads the current part's body whole (for the small metadata part). */
  async readSmallBody(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.streamBody()) {
      chunks.push(chunk);
      if (chunks.reduce((n, c) => n + c.length, 0) > MAX_METADATA_BYTES)
        throw invalid("Multipart metadata part too large.");
    }
    return Buffer.concat(chunks);
  }

  /** Streams the current part's body up to (not including) the next delimiter. */
  async *streamBody(): AsyncGenerator<Buffer> {
    const keep = this.delimiter.length - 1;
    for (;;) {
      const at = this.buffer.indexOf(this.delimiter);
      if (at !== -1) {
        if (at > 0) yield this.buffer.subarray(0, at);
        // Leave the delimiter for nextHeaders().
        this.buffer = this.buffer.subarray(at);
        return;
      }
      if (this.buffer.length > keep) {
        yield this.buffer.subarray(0, this.buffer.length - keep);
        this.buffer = this.buffer.subarray(this.buffer.length - keep);
      }
      if (this.ended) throw invalid("Malformed multipart body: missing closing boundary.");
      await this.pull();
    }
  }

  private async fillUntil(done: () => boolean, limit: number): Promise<void> {
    while (!done() && !this.ended && this.buffer.length <= limit + this.delimiter.length)
      await this.pull();
  }

  private async pull(): Promise<void> {
    const next = await this.source.next();
    if (next.done) {
      this.ended = true;
      return;
    }
    this.buffer = this.buffer.length === 0 ? next.value : Buffer.concat([this.buffer, next.value]);
  }
}
