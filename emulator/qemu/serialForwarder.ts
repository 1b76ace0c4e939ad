/**
 * Copies what a running machine writes to its serial capture files into an emulated instance's
 * serial ports, so that `getSerialPortOutput` serves a real guest's output. QEMU appends to the
 * files (across guest reboots too); the forwarder polls them from where it last stopped.
 */
import type { SerialPortNumber } from "./machine";
import type { SerialPortReader } from "./serialLog";

/** How often the files are polled while the machine runs. */
export const SERIAL_FORWARD_INTERVAL_MS = 200;

/** A running forwarder. */
export interface SerialForwarder {
  /**
   * Copies whatever is still unread, then stops polling. Call it once the machine has exited, so
   * that the guest's last lines (its final marker, the kernel's power-down message) are not lost.
   */
  drainAndStop(): Promise<void>;
}

/**
 * Starts forwarding serial ports 1 to 4 of `readers` to `write`, every `intervalMs`. Reads never
 * overlap; a read error is retried at the next tick (the file may be replaced by a reboot).
 */
export function forwardSerialPorts(
  readers: (port: SerialPortNumber) => SerialPortReader,
  write: (port: SerialPortNumber, bytes: Buffer) => void,
  intervalMs: number = SERIAL_FORWARD_INTERVAL_MS,
): SerialForwarder {
  const ports = [1, 2, 3, 4] as const;
  const offsets = new Map<SerialPortNumber, number>(ports.map((port) => [port, 0]));
  let pass: Promise<void> = Promise.resolve();
  let busy = false;
  let stopped = false;

  const copyOnce = async (): Promise<void> => {
    for (const port of ports) {
      try {
        const chunk = await readers(port).read(offsets.get(port) ?? 0);
        if (chunk.contents.length > 0) write(port, chunk.contents);
        offsets.set(port, chunk.next);
      } catch {
        // Transient (the file is being recreated): the next pass reads from the same offset.
      }
    }
  };
  // One pass at a time (a slow disk skips ticks instead of queueing them), each after the previous
  // one, so bytes are written in order and exactly once.
  const timer = setInterval(() => {
    if (stopped || busy) return;
    busy = true;
    pass = pass.then(copyOnce).finally(() => (busy = false));
  }, intervalMs);

  return {
    async drainAndStop() {
      stopped = true;
      clearInterval(timer);
      pass = pass.then(copyOnce);
      await pass;
    },
  };
}
