import { expect } from "chai";
import { sharedGcpClients } from "../../components/google/sharedClients";

describe("shared clients of overlapping builds", function () {
  this.timeout(60_000);
  const options = {
    endpoints: { compute: "http://127.0.0.1:9", storage: "http://127.0.0.1:9" },
    projectId: "p",
  };

  it("gives overlapping builds one set, and a fresh set once the last one let go", async () => {
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
    const d = sharedGcpClients(options);
    expect(d.instances).not.to.equal(a.instances);
    await d.close();
    await other.close();
  });
});
