/**
 * A small GCE-style metadata server for the end-to-end tests: it answers what cloud-init's GCE
 * datasource reads at boot (`instance/id`, `instance/zone`, `instance/hostname`, and the instance
 * and project attributes with `?recursive=True`) and single attributes, only to requests carrying
 * `Metadata-Flavor: Google`, as GCE does. Attributes can change while the guest runs (the ack).
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

/** A running test metadata server. */
export interface TestMetadataServer {
  /** Loopback port it listens on (the machine's `metadataPort`). */
  port: number;
  /** Instance attributes (`instance/attributes/<key>`); mutable while the server runs. */
  attributes: Map<string, string>;
  /** Paths requested so far, in order (for diagnostics). */
  requests: string[];
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

const PREFIX = "/computeMetadata/v1/";

/** Starts the server on 127.0.0.1 at a free port. */
export async function startTestMetadataServer(
  instance: { id: string; name: string; zone: string },
  attributes: Record<string, string>,
): Promise<TestMetadataServer> {
  const attributeMap = new Map(Object.entries(attributes));
  const requests: string[] = [];
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://metadata.google.internal");
    requests.push(`${request.method} ${url.pathname}${url.search}`);
    const reply = (status: number, body: string, type = "application/text") => {
      response.writeHead(status, { "Content-Type": type, "Metadata-Flavor": "Google" });
      response.end(body);
    };
    if (request.headers["metadata-flavor"] !== "Google")
      return reply(403, "Missing Metadata-Flavor:Google header.");
    if (!url.pathname.startsWith(PREFIX)) return reply(404, "not found");
    const recursive = (url.searchParams.get("recursive") ?? "").toLowerCase() === "true";
    const key = url.pathname.slice(PREFIX.length).replace(/\/$/, "");
    if (key === "instance/id") return reply(200, instance.id);
    if (key === "instance/name") return reply(200, instance.name);
    if (key === "instance/zone") return reply(200, `projects/0/zones/${instance.zone}`);
    if (key === "instance/hostname")
      return reply(200, `${instance.name}.${instance.zone}.c.local.internal`);
    if (key === "instance/attributes" && recursive) {
      return reply(200, JSON.stringify(Object.fromEntries(attributeMap)), "application/json");
    }
    if (key === "project/attributes" && recursive) return reply(200, "{}", "application/json");
    if (key.startsWith("instance/attributes/")) {
      const value = attributeMap.get(key.slice("instance/attributes/".length));
      return value === undefined ? reply(404, "not found") : reply(200, value);
    }
    return reply(404, "not found");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    attributes: attributeMap,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
