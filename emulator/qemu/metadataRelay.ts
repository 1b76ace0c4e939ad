/**
 * The per-connection bridge between a guest and a server on the host's loopback: the emulator's
 * metadata server, and the test registries the launcher forwards (registryPort, registryForwards).
 *
 * QEMU's user networking (slirp) runs this program once for every TCP connection the guest opens to
 * 169.254.169.254:80 (`guestfwd=tcp:169.254.169.254:80-cmd:...`), with that connection as its
 * stdin, stdout and stderr. It connects to the metadata server on the host's loopback and copies
 * bytes both ways, passing on each side's end of stream.
 *
 * Why not `guestfwd=...-tcp:127.0.0.1:PORT`: that form opens ONE host connection when QEMU starts
 * and funnels every guest connection into it; once the HTTP server closes it (keep-alive timeout),
 * later guest requests go nowhere. One relay process per connection behaves like a real network.
 *
 * Usage (run by QEMU, not by hand): `node metadataRelay.js <port>`. Writes nothing of its own to
 * stdout or stderr: both are the guest's socket.
 */
import * as net from "node:net";

/** Relays this process's stdin/stdout to `127.0.0.1:<port>` until both directions have ended. */
export function relayStdioToLoopback(port: number): void {
  const upstream = net.createConnection({ host: "127.0.0.1", port });
  // stdin EOF (the guest closed its side) half-closes upstream, so the server still answers.
  process.stdin.pipe(upstream);
  upstream.pipe(process.stdout);
  // The server's response is complete and flushed to the guest: nothing left to do.
  process.stdout.on("finish", () => process.exit(0));
  upstream.on("error", () => process.exit(1));
  process.stdout.on("error", () => process.exit(1));
}

if (require.main === module) {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) process.exit(2);
  relayStdioToLoopback(port);
}
