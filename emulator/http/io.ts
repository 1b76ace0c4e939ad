/** Reading request bodies and writing JSON responses. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { invalid } from "./errors";

/** Largest JSON body the emulator accepts (GCE's own request limit is in the same range). */
export const MAX_JSON_BODY_BYTES = 8 * 1024 * 1024;

/** Reads the whole body as a Buffer, refusing more than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit = MAX_JSON_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw invalid(`Request body larger than ${limit} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** Reads and parses a JSON object body; an empty body is `{}`. */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = (await readBody(req)).toString("utf8").trim();
  if (raw === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalid("Invalid JSON payload received.");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw invalid("Invalid JSON payload received. Expected an object.");
  }
  return parsed as Record<string, unknown>;
}

/** Writes a JSON response. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=UTF-8",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Writes an empty response (e.g. 204 after a Cloud Storage delete). */
export function sendEmpty(
  res: ServerResponse,
  status: number,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "Content-Length": 0, ...headers });
  res.end();
}
