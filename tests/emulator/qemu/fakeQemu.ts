/**
 * A stand-in for `qemu-system-x86_64` in the launcher's unit tests: it understands the arguments the
 * launcher passes (QMP socket, serial capture files, disks), records them, speaks enough QMP, and
 * plays a guest whose behaviour the test picks through the environment:
 *
 * - `FAKE_QEMU_LOG`: file that gets one JSON line per start: `{ argv }`;
 * - `FAKE_QEMU_REBOOTS`: how many starts end in a guest reboot (counted through `FAKE_QEMU_LOG`);
 * - `FAKE_QEMU_IGNORE_POWERDOWN`: when set, the ACPI power button does nothing;
 * - `FAKE_QEMU_POWER_OFF_AFTER_MS`: the guest powers off by itself this long after the start;
 * - `FAKE_QEMU_QMP_LOG`: file that gets one JSON line per QMP command: `{ execute, arguments }`.
 *
 * Every start writes `boot <n>` to serial port 1 and `ttyS<k> boot <n>` to the other ports and,
 * unless it reboots or powers off, then idles until told to stop over QMP.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import { onQmpRequests } from "./qmpRequests";

const argv = process.argv.slice(2);
const valueAfter = (flag: string) =>
  argv.filter((_, index) => index > 0 && argv[index - 1] === flag);
const qmpSocket = /^unix:(.*),server=on,wait=off$/.exec(valueAfter("-qmp")[0])![1];
const serialFiles = valueAfter("-chardev").map((chardev) => /path=([^,]*)/.exec(chardev)![1]);
const log = process.env.FAKE_QEMU_LOG!;
fs.appendFileSync(log, JSON.stringify({ argv }) + "\n");
const start = fs.readFileSync(log, "utf8").trim().split("\n").length;
fs.appendFileSync(serialFiles[0], `boot ${start}\n`);
serialFiles
  .slice(1)
  .forEach((file, index) => fs.appendFileSync(file, `ttyS${index + 1} boot ${start}\n`));

const connections: net.Socket[] = [];
const send = (message: unknown) => {
  for (const socket of connections) socket.write(JSON.stringify(message) + "\n");
};
const shutdown = (reason: string, guest: boolean) => {
  send({ event: "SHUTDOWN", data: { guest, reason } });
  setTimeout(() => process.exit(0), 20);
};

const server = net.createServer((socket) => {
  connections.push(socket);
  socket.write(JSON.stringify({ QMP: { version: {}, capabilities: [] } }) + "\n");
  onQmpRequests(socket, (request) => {
    if (process.env.FAKE_QEMU_QMP_LOG) {
      const entry = { execute: request.execute, arguments: request.arguments };
      fs.appendFileSync(process.env.FAKE_QEMU_QMP_LOG, JSON.stringify(entry) + "\n");
    }
    socket.write(JSON.stringify({ return: {}, id: request.id }) + "\n");
    if (request.execute === "quit") shutdown("host-qmp-quit", false);
    if (request.execute === "system_powerdown" && !process.env.FAKE_QEMU_IGNORE_POWERDOWN) {
      shutdown("guest-shutdown", true);
    }
  });
});
// Like QEMU, take over the socket path from a previous process.
fs.rmSync(qmpSocket, { force: true });
server.listen(qmpSocket, () => {
  if (start <= Number(process.env.FAKE_QEMU_REBOOTS ?? 0))
    setTimeout(() => shutdown("guest-reset", true), 300);
  else if (process.env.FAKE_QEMU_POWER_OFF_AFTER_MS)
    setTimeout(
      () => shutdown("guest-shutdown", true),
      Number(process.env.FAKE_QEMU_POWER_OFF_AFTER_MS),
    );
});
