import * as http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A loopback stand-in for Cloud Storage's media downloads, for the start script's fetch of the
 * CIDATA tree: `GET <path>?alt=media` answers the bytes stored under the path, when the request
 * carries a bearer token. It can answer 404 a few times first (the upload still under way), or
 * refuse every token with 403 (a service account without access).
 */
export class FakeObjectServer {
  /** Object bytes by request path (percent-encoded as sent). */
  readonly objects = new Map<string, Buffer>();
  /** Every request: its path and `Authorization` header. */
  readonly requests: Array<{ path: string; authorization?: string }> = [];
  /** How many requests still get 404 before the object is served. */
  notYet = 0;
  /** Answer 403 to every request. */
  refuse = false;
  private readonly server = http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    this.requests.push({ path: url.pathname, authorization: request.headers.authorization });
    const object = this.objects.get(url.pathname);
    const answer = (status: number, body: Buffer | string): void => {
      response.writeHead(status, { "Content-Length": Buffer.byteLength(body) });
      response.end(body);
    };
    if (!/^Bearer \S+$/.test(request.headers.authorization ?? "") || this.refuse)
      return answer(403, '{"error":{"code":403,"message":"denied"}}');
    if (url.searchParams.get("alt") !== "media" || !object || this.notYet-- > 0)
      return answer(404, '{"error":{"code":404,"message":"No such object"}}');
    answer(200, object);
  });

  /** Starts listening on a free loopback port. */
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Forgets objects, requests and scenario. */
  reset(): void {
    this.objects.clear();
    this.requests.splice(0);
    this.notYet = 0;
    this.refuse = false;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A loopback port nothing listens on (taken, then released). */
  static async closedPort(): Promise<number> {
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    return port;
  }
}
