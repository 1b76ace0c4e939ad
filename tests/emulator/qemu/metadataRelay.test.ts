import { expect } from "chai";
import { spawn } from "node:child_process";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";

/** Runs the compiled relay as QEMU would: `request` on its stdin, the bytes it writes back returned. */
function relayOnce(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const relay = spawn(process.execPath, [
      path.resolve(__dirname, "../../../emulator/qemu/metadataRelay.js"),
      String(port),
    ]);
    let output = "";
    relay.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    relay.once("error", reject);
    relay.once("close", (code) =>
      code === 0 ? resolve(output) : reject(new Error(`relay exited ${code}: ${output}`)),
    );
    relay.stdin.end(request);
  });
}

describe("metadataRelay", () => {
  let server: http.Server;
  let port: number;
  before(async () => {
    server = http.createServer((request, response) => {
      const body = `${request.url} flavor=${String(request.headers["metadata-flavor"])}`;
      response.writeHead(200, {
        "Metadata-Flavor": "Google",
        "Content-Length": Buffer.byteLength(body),
      });
      response.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  it("carries one HTTP exchange per process, also when the guest half-closes after its request", async () => {
    const request =
      "GET /computeMetadata/v1/instance/id HTTP/1.1\r\nHost: metadata.google.internal\r\nMetadata-Flavor: Google\r\n\r\n";
    for (let i = 0; i < 2; i++) {
      const response = await relayOnce(port, request);
      expect(response).to.match(/^HTTP\/1\.1 200 OK\r\n/);
      expect(response).to.match(/\/computeMetadata\/v1\/instance\/id flavor=Google$/);
    }
  });

  it("exits non-zero when nothing listens on the port", async () => {
    let error: unknown;
    await relayOnce(1, "GET / HTTP/1.1\r\n\r\n").catch((caught: unknown) => (error = caught));
    expect((error as Error).message).to.match(/relay exited 1/);
  });
});
