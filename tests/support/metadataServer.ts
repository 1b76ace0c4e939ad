/**
 * A loopback stand-in for the GCE metadata server, for the provisioner tests and the end-to-end
 * guests (the emulator's real one, emulator/metadata/metadataServer.ts, serves whole instances).
 * Only requests carrying `Metadata-Flavor: Google` are answered, as on GCE. It serves instance
 * attributes with ETags and `wait_for_change` / `last_etag` / `timeout_sec` semantics, the service
 * account token, and, for an instance given its identity, what cloud-init's GCE datasource reads at
 * boot: `instance/id`, `instance/name`, `instance/zone`, `instance/hostname`, and the instance and
 * project attributes with `?recursive=True`. Attributes can change while a guest runs (the ack).
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

/** One request the fake metadata server received. */
export interface MetadataRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Whether the request carried `Metadata-Flavor: Google`, as the real server requires. */
  flavored: boolean;
}

/** Who the instance is, for the identity keys cloud-init reads. */
export interface MetadataInstance {
  id: string;
  name: string;
  zone: string;
}

const PREFIX = "/computeMetadata/v1/";
const ATTRIBUTES = "instance/attributes/";

/** The fake metadata server. */
export class FakeMetadataServer {
  /** Every request, in order. */
  readonly requests: MetadataRequest[] = [];
  /** The access token served at `instance/service-accounts/default/token`. */
  token = "ya29.fake-service-account-token";
  private readonly attributes = new Map<string, { value: string; etag: string }>();
  private readonly waiters = new Set<() => void>();
  private etagCounter = 0;
  private readonly server = http.createServer((request, response) =>
    this.handle(request, response),
  );

  /** `instance` adds the identity keys; without it they are 404, like any unknown key. */
  constructor(private readonly instance?: MetadataInstance) {}

  /** Starts listening on 127.0.0.1 on a free port. */
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
  }

  /** The loopback port it listens on (a QEMU machine's `metadataPort`). */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Base URL, as the provisioner's `PCI_METADATA_URL`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/computeMetadata/v1`;
  }

  /** Every request as a `METHOD /path?query` line, in order (for diagnostics and checks). */
  readonly requestLines: string[] = [];

  /** Sets an instance attribute, waking up waiting requests. */
  setAttribute(key: string, value: string): void {
    this.attributes.set(key, { value, etag: `etag-${++this.etagCounter}` });
    for (const wake of [...this.waiters]) wake();
  }

  /** Removes an instance attribute (404 again). */
  deleteAttribute(key: string): void {
    this.attributes.delete(key);
  }

  async stop(): Promise<void> {
    for (const wake of [...this.waiters]) wake();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const url = new URL(request.url ?? "/", "http://metadata.google.internal");
    const flavored = request.headers["metadata-flavor"] === "Google";
    this.requests.push({
      method: request.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      flavored,
    });
    this.requestLines.push(`${request.method} ${url.pathname}${url.search}`);
    const reply = (status: number, body: string, type = "application/text"): void => {
      response.writeHead(status, { "Content-Type": type, "Metadata-Flavor": "Google" });
      response.end(body);
    };
    if (!flavored) return reply(403, "Missing Metadata-Flavor:Google header.");
    if (!url.pathname.startsWith(PREFIX)) return reply(404, "not found");
    const key = url.pathname.slice(PREFIX.length);
    const recursive = (url.searchParams.get("recursive") ?? "").toLowerCase() === "true";
    if (key === "instance/service-accounts/default/token") {
      const token = { access_token: this.token, expires_in: 3599, token_type: "Bearer" };
      return reply(200, JSON.stringify(token), "application/json");
    }
    const identity = this.identity(key.replace(/\/$/, ""));
    if (identity !== undefined) return reply(200, identity);
    if (recursive && key.replace(/\/$/, "") === "instance/attributes") {
      const values = [...this.attributes].map(([name, { value }]) => [name, value]);
      return reply(200, JSON.stringify(Object.fromEntries(values)), "application/json");
    }
    if (recursive && key.replace(/\/$/, "") === "project/attributes")
      return reply(200, "{}", "application/json");
    if (key.startsWith(ATTRIBUTES) && key.length > ATTRIBUTES.length)
      return this.answerAttribute(key.slice(ATTRIBUTES.length), url.searchParams, response);
    reply(404, "not found");
  }

  /** The value of an identity key, when the server has an instance. */
  private identity(key: string): string | undefined {
    const instance = this.instance;
    if (!instance) return undefined;
    if (key === "instance/id") return instance.id;
    if (key === "instance/name") return instance.name;
    if (key === "instance/zone") return `projects/0/zones/${instance.zone}`;
    if (key === "instance/hostname") return `${instance.name}.${instance.zone}.c.local.internal`;
    return undefined;
  }

  private answerAttribute(
    key: string,
    query: URLSearchParams,
    response: http.ServerResponse,
  ): void {
    const current = this.attributes.get(key);
    const waits =
      query.get("wait_for_change") === "true" && current?.etag === query.get("last_etag");
    if (!current || !waits) return this.sendAttribute(key, response);
    const timeout = Number(query.get("timeout_sec") ?? "60") * 1000;
    const wake = (): void => {
      clearTimeout(timer);
      this.waiters.delete(wake);
      this.sendAttribute(key, response);
    };
    const timer = setTimeout(wake, timeout);
    this.waiters.add(wake);
  }

  private sendAttribute(key: string, response: http.ServerResponse): void {
    const current = this.attributes.get(key);
    if (!current) return void response.writeHead(404).end("not found");
    response
      .writeHead(200, { etag: current.etag, "content-type": "application/text" })
      .end(current.value);
  }
}
