import * as http from "node:http";
import type { AddressInfo } from "node:net";

/** One request the fake metadata server received. */
export interface MetadataRequest {
  path: string;
  query: URLSearchParams;
  /** Whether the request carried `Metadata-Flavor: Google`, as the real server requires. */
  flavored: boolean;
}

/**
 * A loopback stand-in for the GCE metadata server: instance attributes with ETags and
 * `wait_for_change` / `last_etag` / `timeout_sec` semantics, and the service account token.
 */
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

  /** Starts listening on 127.0.0.1 on a free port. */
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
  }

  /** Base URL, as the provisioner's `PCI_METADATA_URL`. */
  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/computeMetadata/v1`;
  }

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
    const url = new URL(request.url ?? "/", "http://metadata");
    const flavored = request.headers["metadata-flavor"] === "Google";
    this.requests.push({ path: url.pathname, query: url.searchParams, flavored });
    if (!flavored)
      return void response.writeHead(403).end("Missing Metadata-Flavor:Google header.");
    const attributePrefix = "/computeMetadata/v1/instance/attributes/";
    if (url.pathname === "/computeMetadata/v1/instance/service-accounts/default/token") {
      response.writeHead(200, { "content-type": "application/json" });
      return void response.end(
        JSON.stringify({ access_token: this.token, expires_in: 3599, token_type: "Bearer" }),
      );
    }
    if (url.pathname.startsWith(attributePrefix)) {
      return this.answerAttribute(
        url.pathname.slice(attributePrefix.length),
        url.searchParams,
        response,
      );
    }
    response.writeHead(404).end("not found");
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
