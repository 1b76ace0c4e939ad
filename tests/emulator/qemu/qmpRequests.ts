/** The request side of QMP as the tests' fake QEMUs read it (./fakeQemu.ts, ./qmp.test.ts). */
import type { Socket } from "node:net";

/** A QMP command as a client sends it. */
export interface QmpRequest {
  execute: string;
  arguments?: unknown;
  id: number;
}

/** Calls `handle` with each QMP command that arrives on `socket`, one JSON object a line. */
export function onQmpRequests(socket: Socket, handle: (request: QmpRequest) => void): void {
  let buffered = "";
  socket.on("data", (chunk) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const request = JSON.parse(buffered.slice(0, newline)) as QmpRequest;
      buffered = buffered.slice(newline + 1);
      handle(request);
    }
  });
}
