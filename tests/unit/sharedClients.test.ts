import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { closeIdleGcpClients, sharedGcpClients } from "../../components/google/sharedClients";

describe("shared clients of overlapping builds", function () {
  this.timeout(60_000);
  const options = {
    endpoints: { compute: "http://127.0.0.1:9", storage: "http://127.0.0.1:9" },
    projectId: "p",
  };
  afterEach(() => closeIdleGcpClients());

  it("gives overlapping callers one set, kept open a while after the last one let go", async () => {
    const a = sharedGcpClients(options);
    const b = sharedGcpClients(options);
    const other = sharedGcpClients({ ...options, projectId: "q" });
    expect(b.instances).to.equal(a.instances);
    expect(other.instances).not.to.equal(a.instances);
    await a.close();
    await a.close(); // a second close of one holder does not count twice
    const c = sharedGcpClients(options);
    expect(c.instances).to.equal(b.instances);
    await b.close();
    await c.close();
    // Nobody holds it: the next caller within the idle time (check, then create) still gets it.
    const d = sharedGcpClients(options);
    expect(d.instances).to.equal(a.instances);
    await d.close();
    await other.close();
    await closeIdleGcpClients();
    const e = sharedGcpClients(options);
    expect(e.instances).not.to.equal(a.instances);
    await e.close();
  });

  it("gives a changed access token a set of its own", async () => {
    const saved = process.env.CLOUDSDK_AUTH_ACCESS_TOKEN;
    try {
      process.env.CLOUDSDK_AUTH_ACCESS_TOKEN = "one";
      const a = sharedGcpClients(options);
      process.env.CLOUDSDK_AUTH_ACCESS_TOKEN = "two";
      const b = sharedGcpClients(options);
      expect(b.instances).not.to.equal(a.instances);
      await a.close();
      await b.close();
    } finally {
      if (saved === undefined) delete process.env.CLOUDSDK_AUTH_ACCESS_TOKEN;
      else process.env.CLOUDSDK_AUTH_ACCESS_TOKEN = saved;
    }
  });

  it("does not keep the process alive while an idle set waits to close", async () => {
    const module = path.resolve(__dirname, "../../components/google/sharedClients.js");
    const script = `const { sharedGcpClients } = require(${JSON.stringify(module)});
      const clients = sharedGcpClients(${JSON.stringify(options)});
      clients.close().then(() => console.log("released"));`;
    // execFile kills the child and rejects if it is still alive after 30 s; the idle close is a
    // minute away, so only an unref'd timer lets it exit in time.
    const { stdout } = await promisify(execFile)(process.execPath, ["-e", script], {
      timeout: 30_000,
    });
    expect(stdout.trim()).to.equal("released");
  });
});
