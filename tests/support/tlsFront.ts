/**
 * A TLS front for a plain-HTTP test service on the host's loopback: it terminates TLS with a given
 * certificate and relays the bytes to the service. The test registry (registry.ts) stays plain HTTP
 * for its own seeding, while guests reach it over https, as they reach any registry that is not on
 * their own loopback. Test-side only.
 */
import * as net from "node:net";
import * as tls from "node:tls";

/** A running front. */
export interface TlsFront {
  /** Its TCP port on 127.0.0.1. */
  port: number;
  /** Stops listening and ends every open connection. */
  close(): Promise<void>;
}

/** Starts a front on a free port of 127.0.0.1 that relays to `127.0.0.1:<targetPort>`. */
export function startTlsFront(options: {
  /** The service's port on 127.0.0.1. */
  targetPort: number;
  /** Server certificate (PEM). */
  certificate: string;
  /** Its private key (PEM). */
  key: string;
}): Promise<TlsFront> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ cert: options.certificate, key: options.key }, (client) => {
    const upstream = net.connect(options.targetPort, "127.0.0.1");
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      // A reset on one side ends the other; the guest's client reports its own error.
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  // A guest that gives up mid-handshake is no failure of the front.
  server.on("tlsClientError", () => undefined);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
