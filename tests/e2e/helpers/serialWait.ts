/** Waiting for text on a running machine's serial port, with the consoles in the error when it never comes. */
import type { Machine, SerialPortNumber } from "../../../emulator/qemu";

/** Text of serial port `port` so far, with CR LF (the tty's output translation) as LF. */
export async function serialText(machine: Machine, port: SerialPortNumber): Promise<string> {
  const { contents } = await machine.serial(port).read(0, 64 * 1024 * 1024);
  return contents.toString("utf8").replaceAll("\r\n", "\n");
}

/**
 * Polls serial port `port` until `pattern` matches its text; resolves with the match. Fails when
 * `timeoutMs` passes or the machine exits first, quoting the ends of ports 1 and 3.
 */
export async function waitForSerial(
  machine: Machine,
  port: SerialPortNumber,
  pattern: RegExp,
  timeoutMs: number,
): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = (await serialText(machine, port)).match(pattern);
    if (match) return match;
    const why = !machine.running
      ? "the machine exited"
      : Date.now() > deadline
        ? `${timeoutMs} ms passed`
        : "";
    if (why) {
      throw new Error(
        `${pattern} never appeared on serial port ${port} (${why}).\n${await consoleTails(machine)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The last lines of serial ports 1 and 3, for failure messages. */
export async function consoleTails(machine: Machine): Promise<string> {
  const tail = async (port: SerialPortNumber) =>
    (await serialText(machine, port)).split("\n").slice(-40).join("\n");
  return `--- serial port 1 (end) ---\n${await tail(1)}\n--- serial port 3 (end) ---\n${await tail(3)}`;
}
