import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { QmpClient, QmpCommandError, type QmpEvent } from "../../../emulator/qemu/qmp";
import { onQmpRequests } from "./qmpRequests";

/**
 * A fake QEMU speaking QMP: greeting, capabilities negotiation, and a few test commands. `hang`
 * is never answered; `drop` closes the connection.
 */
function startFakeQemu(socketPath: string): Promise<net.Server> {
  const server = net.createServer((socket) => {
    const send = (message: unknown) => socket.write(JSON.stringify(message) + "\r\n");
    send({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: [] } });
    let negotiated = false;
    onQmpRequests(socket, (request) => {
      const reply = (body: Record<string, unknown>) => send({ ...body, id: request.id });
      if (request.execute === "qmp_capabilities") {
        negotiated = true;
        reply({ return: {} });
      } else if (!negotiated) {
        reply({
          error: { class: "CommandNotFound", desc: "Expecting capabilities negotiation" },
        });
      } else if (request.execute === "echo") {
        reply({ return: request.arguments });
      } else if (request.execute === "system_powerdown") {
        send({ event: "POWERDOWN", timestamp: { seconds: 1, microseconds: 2 } });
        reply({ return: {} });
      } else if (request.execute === "drop") {
        socket.destroy();
      } else if (request.execute !== "hang") {
        reply({
          error: {
            class: "CommandNotFound",
            desc: `The command ${request.execute} has not been found`,
          },
        });
      }
    });
  });
  return new Promise((resolve) => server.listen(socketPath, () => resolve(server)));
}

describe("QmpClient", () => {
  let dir: string;
  let socketPath: string;
  let server: net.Server | undefined;
  let client: QmpClient | undefined;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "pci-qmp-test-"));
    socketPath = path.join(dir, "qmp.sock");
  });
  afterEach(async () => {
    client?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("waits for the socket to appear, negotiates, and matches replies to commands", async () => {
    setTimeout(() => void startFakeQemu(socketPath).then((started) => (server = started)), 200);
    client = await QmpClient.connect(socketPath, { timeoutMs: 5_000 });
    const [first, second] = await Promise.all([
      client.execute("echo", { value: 1 }),
      client.execute("echo", { value: 2 }),
    ]);
    expect(first).to.deep.equal({ value: 1 });
    expect(second).to.deep.equal({ value: 2 });
  });

  it("rejects with the QMP error class and description", async () => {
    server = await startFakeQemu(socketPath);
    client = await QmpClient.connect(socketPath);
    let error: unknown;
    await client.execute("nonsense").catch((caught: unknown) => (error = caught));
    expect(error).to.be.instanceOf(QmpCommandError);
    expect((error as QmpCommandError).errorClass).to.equal("CommandNotFound");
    expect((error as Error).message).to.match(/nonsense.*has not been found/);
  });

  it("delivers events to listeners until they unsubscribe", async () => {
    server = await startFakeQemu(socketPath);
    client = await QmpClient.connect(socketPath);
    const events: QmpEvent[] = [];
    const unsubscribe = client.onEvent((event) => events.push(event));
    await client.execute("system_powerdown");
    unsubscribe();
    await client.execute("system_powerdown");
    expect(events.map((event) => event.event)).to.deep.equal(["POWERDOWN"]);
  });

  it("rejects waiting and later commands once the connection is gone", async () => {
    server = await startFakeQemu(socketPath);
    client = await QmpClient.connect(socketPath);
    const waiting = client.execute("hang");
    const dropped = client.execute("drop");
    for (const pending of [waiting, dropped]) {
      let error: unknown;
      await pending.catch((caught: unknown) => (error = caught));
      expect((error as Error).message).to.match(/closed the QMP connection/);
    }
    expect(client.closed).to.equal(true);
    let later: unknown;
    await client.execute("echo").catch((caught: unknown) => (later = caught));
    expect(later).to.be.instanceOf(Error);
  });

  it("gives up after the timeout when nothing listens", async () => {
    let error: unknown;
    await QmpClient.connect(socketPath, { timeoutMs: 300 }).catch(
      (caught: unknown) => (error = caught),
    );
    expect((error as Error).message).to.match(/cannot connect to QMP socket/);
  });
});
