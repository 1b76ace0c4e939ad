/**
 * A GCE metadata server for one instance, on its own loopback port: the port identifies the
 * instance (a QEMU guest reaches it through a forward of 169.254.169.254:80, so no header or source
 * address could). Serves `/computeMetadata/v1/...` like GCE: `Metadata-Flavor: Google` required,
 * directory listings, `?recursive=true` JSON with camelCase keys, `?alt=json`, `?wait_for_change=true`
 * with `last_etag` and `timeout_sec`, the service-account token, and guest attributes.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { MetadataServerAddress } from "../guests/guest";
import { serviceAccountToken } from "../storage/access";

/** A metadata tree: directories are objects or arrays, leaves are strings, numbers or booleans. */
export type MetadataNode =
  string | number | boolean | MetadataNode[] | { [key: string]: MetadataNode };

/** What the server serves. */
export interface MetadataSource {
  /** The whole tree, `{ instance: {...}, project: {...} }`, with GCE's kebab-case keys. */
  tree(): { [key: string]: MetadataNode };
  /** Calls `listener` after any change of the tree; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
  /** Stores a guest attribute written by the guest (`PUT instance/guest-attributes/<ns>/<key>`). */
  setGuestAttribute(namespace: string, key: string, value: string): void;
}

/** A running metadata server. */
export interface MetadataServerHandle extends MetadataServerAddress {
  /** Stops the server, ending pending `wait_for_change` requests. */
  close(): Promise<void>;
}

/** Directories under which keys are user data and keep their spelling in recursive JSON. */
const VERBATIM_CHILDREN = new Set(["attributes", "service-accounts", "guest-attributes"]);
/** The etag standing for "no such key" while waiting for it to appear. */
const ABSENT_ETAG = "absent";
/** GCE holds a `wait_for_change` request at most about an hour; we cap at the same order. */
const MAX_WAIT_SECONDS = 3600;

/** Starts a metadata server for `source` on 127.0.0.1 (port 0 = any free port). */
export async function startMetadataServer(
  source: MetadataSource,
  port = 0,
): Promise<MetadataServerHandle> {
  const closing = new AbortController();
  const server = createServer((req, res) => {
    handle(source, req, res, closing.signal).catch((err: unknown) => {
      if (!res.headersSent) sendText(res, 500, `Internal error: ${String(err)}`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    host: "127.0.0.1",
    port: address.port,
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        closing.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  source: MetadataSource,
  req: IncomingMessage,
  res: ServerResponse,
  closing: AbortSignal,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://metadata.google.internal");
  if (req.headers["metadata-flavor"] !== "Google") {
    return sendText(res, 403, "Missing required header: Metadata-Flavor: Google\n");
  }
  if (req.headers["x-forwarded-for"] !== undefined) {
    // GCE refuses proxied requests, so that SSRF through a proxy cannot read the token.
    return sendText(res, 403, "Request with X-Forwarded-For header is forbidden\n");
  }
  if (url.pathname === "/" || url.pathname === "") return sendText(res, 200, "computeMetadata/\n");
  const prefix = "/computeMetadata/v1";
  if (url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`)) {
    return sendText(res, 404, "Not Found\n");
  }
  const rest = url.pathname.slice(prefix.length).replace(/^\//, "");
  const parts = rest
    .split("/")
    .filter((p) => p !== "")
    .map(decodeURIComponent);
  const trailingSlash = rest === "" || rest.endsWith("/");

  if (req.method === "PUT") return putGuestAttribute(source, parts, req, res);
  if (req.method !== "GET" && req.method !== "HEAD")
    return sendText(res, 405, "Method Not Allowed\n");

  if (isTokenPath(parts)) return sendToken(parts, source, res);

  const flag = (name: string): boolean =>
    (url.searchParams.get(name) ?? "").toLowerCase() === "true";
  const recursive = flag("recursive");
  const render = (): { status: number; body: string; json: boolean } | undefined => {
    const node = walk(source.tree(), parts);
    if (node === undefined) return undefined;
    if (isDirectory(node)) {
      if (recursive)
        return {
          status: 200,
          body: JSON.stringify(camelize(node, parts[parts.length - 1])),
          json: true,
        };
      if (!trailingSlash) return { status: 301, body: "", json: false };
      return { status: 200, body: listing(node), json: false };
    }
    if (url.searchParams.get("alt") === "json")
      return { status: 200, body: JSON.stringify(node), json: true };
    return {
      status: 200,
      body: typeof node === "string" ? node : JSON.stringify(node),
      json: false,
    };
  };

  let rendered = render();
  if (rendered?.status === 301) {
    res.writeHead(301, { Location: `${url.pathname}/${url.search}`, "Metadata-Flavor": "Google" });
    return void res.end();
  }
  if (flag("wait_for_change")) {
    const lastEtag = url.searchParams.get("last_etag");
    const timeoutSec = Math.min(
      Number(url.searchParams.get("timeout_sec") ?? MAX_WAIT_SECONDS),
      MAX_WAIT_SECONDS,
    );
    // Without last_etag, or when it is current, wait for the next change. An absent key is waited
    // for too, so a guest can block until the orchestrator sets it (e.g. the build ack).
    const current = rendered === undefined ? ABSENT_ETAG : etagOf(rendered.body);
    if (lastEtag === null || lastEtag === current) {
      const changed = await waitForChange(source, render, current, timeoutSec * 1000, req, closing);
      if (changed !== "unchanged") rendered = changed;
    }
  }
  if (rendered === undefined) return sendText(res, 404, "Not Found\n");
  if (res.destroyed) return;
  res.writeHead(rendered.status, {
    "Content-Type": rendered.json ? "application/json" : "application/text",
    "Metadata-Flavor": "Google",
    ETag: etagOf(rendered.body),
    "Content-Length": Buffer.byteLength(rendered.body),
  });
  res.end(req.method === "HEAD" ? undefined : rendered.body);
}

/**
 * Waits until the rendered value's etag differs from `startEtag` (an absent value has
 * {@link ABSENT_ETAG}); resolves "unchanged" on timeout, client disconnect or server close.
 */
function waitForChange<T extends { body: string }>(
  source: MetadataSource,
  render: () => T | undefined,
  startEtag: string,
  timeoutMs: number,
  req: IncomingMessage,
  closing: AbortSignal,
): Promise<T | undefined | "unchanged"> {
  return new Promise((resolve) => {
    const finish = (value: T | undefined | "unchanged"): void => {
      unsubscribe();
      clearTimeout(timer);
      req.socket.off("close", onGone);
      closing.removeEventListener("abort", onGone);
      resolve(value);
    };
    const onGone = (): void => finish("unchanged");
    const unsubscribe = source.onChange(() => {
      const now = render();
      if ((now === undefined ? ABSENT_ETAG : etagOf(now.body)) !== startEtag) finish(now);
    });
    const timer = setTimeout(() => finish("unchanged"), Math.max(0, timeoutMs));
    req.socket.once("close", onGone);
    closing.addEventListener("abort", onGone, { once: true });
  });
}

function isTokenPath(parts: string[]): boolean {
  return (
    parts.length === 4 &&
    parts[0] === "instance" &&
    parts[1] === "service-accounts" &&
    (parts[3] === "token" || parts[3] === "identity")
  );
}

function sendToken(parts: string[], source: MetadataSource, res: ServerResponse): void {
  const accounts = walk(source.tree(), ["instance", "service-accounts"]);
  if (
    accounts === undefined ||
    !isDirectory(accounts) ||
    Array.isArray(accounts) ||
    !(parts[2] in accounts)
  ) {
    return sendText(res, 404, "Not Found\n");
  }
  if (parts[3] === "identity") return sendText(res, 200, "emulator.identity.token");
  const account = accounts[parts[2]];
  const field = (key: string): MetadataNode | undefined =>
    isDirectory(account) && !Array.isArray(account) ? account[key] : undefined;
  const email = field("email");
  const scopes = field("scopes");
  const body = JSON.stringify({
    // Names the account and its scopes, so the storage API can decide as IAM would (storage/access.ts).
    access_token: serviceAccountToken({
      email: typeof email === "string" ? email : parts[2],
      scopes: Array.isArray(scopes) ? scopes.map(String) : [],
    }),
    expires_in: 3599,
    token_type: "Bearer",
  });
  res.writeHead(200, {
    "Content-Type": "application/json",
    "Metadata-Flavor": "Google",
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}

async function putGuestAttribute(
  source: MetadataSource,
  parts: string[],
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (parts.length !== 4 || parts[0] !== "instance" || parts[1] !== "guest-attributes") {
    return sendText(res, 405, "Method Not Allowed\n");
  }
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  source.setGuestAttribute(parts[2], parts[3], Buffer.concat(chunks).toString("utf8"));
  sendText(res, 200, "");
}

function walk(tree: MetadataNode, parts: string[]): MetadataNode | undefined {
  let node: MetadataNode | undefined = tree;
  for (const part of parts) {
    if (node === undefined || !isDirectory(node)) return undefined;
    node = Array.isArray(node)
      ? node[Number(part)]
      : Object.prototype.hasOwnProperty.call(node, part)
        ? node[part]
        : undefined;
  }
  return node;
}

function isDirectory(node: MetadataNode): node is MetadataNode[] | { [key: string]: MetadataNode } {
  return typeof node === "object" && node !== null && !isLeafList(node);
}

/** Lists of plain strings (e.g. `tags`, `scopes`) are leaves, served as JSON or one per line. */
function isLeafList(node: MetadataNode): boolean {
  return Array.isArray(node) && node.every((n) => typeof n === "string");
}

function listing(node: MetadataNode[] | { [key: string]: MetadataNode }): string {
  const entries = Array.isArray(node)
    ? node.map((child, i) => [String(i), child] as const)
    : Object.entries(node);
  return entries.map(([key, child]) => (isDirectory(child) ? `${key}/` : key)).join("\n") + "\n";
}

/** GCE's recursive JSON uses camelCase for its own keys and keeps user keys as written. */
function camelize(node: MetadataNode, ownKey: string | undefined): MetadataNode {
  if (typeof node !== "object" || node === null) return node;
  if (Array.isArray(node)) return node.map((child) => camelize(child, undefined));
  const verbatim = ownKey !== undefined && VERBATIM_CHILDREN.has(ownKey);
  const out: { [key: string]: MetadataNode } = {};
  for (const [key, child] of Object.entries(node)) {
    const name = verbatim ? key : key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    out[name] = camelize(child, key);
  }
  return out;
}

function etagOf(body: string): string {
  return createHash("md5").update(body).digest("hex").slice(0, 16);
}

function sendText(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    "Content-Type": "application/text",
    "Metadata-Flavor": "Google",
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}
