/**
 * A loopback stand-in for a container registry's authentication, for the preloadImages tests: the
 * real curl of the provisioner probes its `/v2/` and asks its token service for pull tokens (ctr is
 * a stub, so no image is served). While it answers each request, it scans every process's
 * `/proc/<pid>/cmdline` and `environ` for the secrets it is given, as the ctr and docker stubs do
 * (stubs/_scan.sh): curl is then running, waiting for the answer.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";

/** How the registry authenticates. */
export type RegistryFlavor =
  /** 401 with a Docker token flow challenge; the token service issues tokens for the credentials. */
  | "token"
  /** 401 with `WWW-Authenticate: Basic`, except to `/v2/` with the credentials as basic authentication. */
  | "basic"
  /** Token flow challenge; the token service refuses every request (401). */
  | "refusing";

/** One request the fake registry received. */
export interface RegistryRequest {
  path: string;
  query: URLSearchParams;
  /** The Authorization header, if any. */
  authorization?: string;
}

/** The fake registry. */
export class FakeRegistry {
  readonly requests: RegistryRequest[] = [];
  /** `/proc` files that held a secret while a request was answered. */
  readonly hits: string[] = [];
  /** How many scans ran (one per request, when secrets are given). */
  scans = 0;
  /** The token issued to good credentials (JWT-like: dots, slashes and pluses). */
  readonly token = "eyJhbGciOiJFUzI1NiJ9.eyJhY2Nlc3MiOltdfQ.sig/na+ture_-x=";
  /** The service named in the challenge. */
  readonly service = "fake-registry.test";
  private readonly server = http.createServer((request, response) =>
    this.handle(request, response),
  );

  /**
   * `credentials` (`user:password`) get tokens; `secrets` are looked for in every process while a
   * request is answered.
   */
  constructor(
    private readonly flavor: RegistryFlavor,
    private readonly credentials: string,
    private readonly secrets: string[] = [],
  ) {}

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The registry host, as image references and credentials name it (`127.0.0.1:<port>`). */
  get host(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The token service's URL (the challenge's realm). */
  get realm(): string {
    return `http://${this.host}/token`;
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const url = new URL(request.url ?? "/", "http://registry");
    this.requests.push({
      path: url.pathname,
      query: url.searchParams,
      authorization: request.headers.authorization,
    });
    this.scan();
    const basic = "Basic " + Buffer.from(this.credentials, "utf8").toString("base64");
    if (
      url.pathname === "/v2/" &&
      this.flavor === "basic" &&
      request.headers.authorization === basic
    ) {
      // A Basic registry lets in the right credentials.
      response.writeHead(200, { "Content-Type": "application/json" });
      response.end("{}");
      return;
    }
    if (url.pathname === "/v2/") {
      response.writeHead(401, {
        "Content-Type": "application/json",
        "WWW-Authenticate":
          this.flavor === "basic"
            ? 'Basic realm="fake registry"'
            : `Bearer realm="${this.realm}",service="${this.service}"`,
      });
      response.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    if (url.pathname === "/token" && this.flavor !== "basic") {
      if (this.flavor === "refusing" || request.headers.authorization !== basic) {
        response.writeHead(401, { "Content-Type": "application/json" });
        response.end('{"details":"incorrect username or password"}');
        return;
      }
      response.writeHead(200, { "Content-Type": "application/json" });
      // Escaped slashes (allowed in JSON), a nested decoy "token" and a string that names the key.
      const token = JSON.stringify(this.token).replaceAll("/", "\\/");
      response.end(
        `{"details": {"token": "decoy"}, "note": "\\"token\\": \\"nope\\"", "expires_in": 300,\n` +
          ` "token": ${token}, "access_token": ${token}, "issued_at": "2024-01-01T00:00:00Z"}`,
      );
      return;
    }
    response.writeHead(404);
    response.end();
  }

  /** Looks for the secrets in every process's command line and environment. */
  private scan(): void {
    if (this.secrets.length === 0) return;
    this.scans++;
    const needles = this.secrets.map((secret) => Buffer.from(secret, "utf8"));
    for (const pid of fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
      for (const file of ["cmdline", "environ"]) {
        let bytes: Buffer;
        try {
          bytes = fs.readFileSync(`/proc/${pid}/${file}`);
        } catch {
          continue;
        }
        if (needles.some((needle) => bytes.includes(needle)))
          this.hits.push(`/proc/${pid}/${file}`);
      }
    }
  }
}
