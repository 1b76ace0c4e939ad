import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import {
  ACCESS_TOKEN_ENV,
  createGcpClients,
  endpointsFromEnv,
  isLoopbackEndpoint,
  LOOPBACK_TOKEN,
} from "../../components/google/clients";
import { rejection } from "../support/async";
import "../support/noMetadataServer";

/** A loopback server that records each request's Authorization header and answers a Google 404. */
async function recordingServer(): Promise<{
  url: string;
  authorizations: Array<string | undefined>;
  paths: string[];
  server: Server;
}> {
  const authorizations: Array<string | undefined> = [];
  const paths: string[] = [];
  const server = createServer((req, res) => {
    authorizations.push(req.headers.authorization);
    paths.push(req.url ?? "");
    const body = JSON.stringify({
      error: {
        code: 404,
        message: "nothing here",
        errors: [{ reason: "notFound", domain: "global", message: "nothing here" }],
      },
    });
    res.writeHead(404, { "Content-Type": "application/json" }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    authorizations,
    paths,
    server,
  };
}

describe("components/google/clients", () => {
  it("recognizes loopback endpoints", () => {
    expect(isLoopbackEndpoint("http://127.0.0.1:8089")).to.equal(true);
    expect(isLoopbackEndpoint("http://127.3.4.5")).to.equal(true);
    expect(isLoopbackEndpoint("http://localhost:1234/compute/v1/")).to.equal(true);
    expect(isLoopbackEndpoint("http://[::1]:8089")).to.equal(true);
    expect(isLoopbackEndpoint("https://compute.googleapis.com")).to.equal(false);
    expect(isLoopbackEndpoint("http://10.0.0.1:8089")).to.equal(false);
    expect(() => isLoopbackEndpoint("127.0.0.1:8089")).to.throw(/Invalid API endpoint/);
  });

  it("reads endpoints from PCI_COMPUTE_ENDPOINT / PCI_STORAGE_ENDPOINT", () => {
    expect(endpointsFromEnv({})).to.deep.equal({});
    expect(
      endpointsFromEnv({ PCI_COMPUTE_ENDPOINT: "http://127.0.0.1:1", PCI_STORAGE_ENDPOINT: " " }),
    ).to.deep.equal({ compute: "http://127.0.0.1:1" });
  });

  it("chooses the auth mode: loopback token, CLOUDSDK_AUTH_ACCESS_TOKEN, else ADC (without contacting anything)", async () => {
    const loopback = createGcpClients({
      endpoints: { compute: "http://127.0.0.1:1", storage: "http://127.0.0.1:1" },
      env: {},
    });
    expect(loopback.auth).to.deep.equal({ compute: "loopback-token", storage: "loopback-token" });
    const token = createGcpClients({ env: { [ACCESS_TOKEN_ENV]: "ya29.token" } });
    expect(token.auth).to.deep.equal({ compute: "access-token", storage: "access-token" });
    const adc = createGcpClients({ env: {} });
    expect(adc.auth).to.deep.equal({
      compute: "application-default",
      storage: "application-default",
    });
    await Promise.all([loopback.close(), token.close(), adc.close()]);
  });

  it("sends a fixed bearer token to a loopback endpoint over plain REST (the env token when set)", async () => {
    const recorder = await recordingServer();
    try {
      const plain = createGcpClients({
        projectId: "p",
        endpoints: { compute: recorder.url, storage: recorder.url },
        env: {},
      });
      const computeErr = await rejection(plain.images.get({ project: "p", image: "x" }));
      expect(computeErr.httpStatusCode).to.equal(404);
      const storageErr = await rejection(plain.storage.bucket("some-bucket").getMetadata());
      expect(storageErr.code).to.equal(404);
      const withEnv = createGcpClients({
        projectId: "p",
        endpoints: { compute: recorder.url },
        env: { [ACCESS_TOKEN_ENV]: "from-env" },
      });
      await rejection(withEnv.disks.get({ project: "p", zone: "z", disk: "d" }));
      expect(recorder.paths.map((p) => p.split("?")[0])).to.deep.equal([
        "/compute/v1/projects/p/global/images/x",
        "/storage/v1/b/some-bucket",
        "/compute/v1/projects/p/zones/z/disks/d",
      ]);
      expect(recorder.authorizations).to.deep.equal([
        `Bearer ${LOOPBACK_TOKEN}`,
        `Bearer ${LOOPBACK_TOKEN}`,
        "Bearer from-env",
      ]);
      await Promise.all([plain.close(), withEnv.close()]);
    } finally {
      recorder.server.close();
    }
  });

  it("refuses endpoints that are not http(s) URLs", () => {
    expect(() => createGcpClients({ endpoints: { compute: "ftp://127.0.0.1" }, env: {} })).to.throw(
      /scheme must be http or https/,
    );
  });
});
