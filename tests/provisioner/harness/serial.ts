import { expect } from "chai";
import { MARKERS, PROTOCOL_VERSION } from "../../../components/guest/protocol";

/** The lines of a run's serial output (the last line may lack its newline). */
export function serialLines(serial: string): string[] {
  const lines = serial.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/**
 * Checks the protocol on one run's output: `BuildProtocol:` first (the start script's, with
 * `stage=boot`, when `fromStartScript`; the provisioner's otherwise), every line starts with a
 * marker, and at most one final marker, as the very last line.
 */
export function expectWellFormedRun(
  serial: string,
  buildId: string,
  fromStartScript = false,
): void {
  const lines = serialLines(serial);
  const stage = fromStartScript ? " stage=boot" : "";
  expect(lines[0]).to.equal(`${MARKERS.protocol} ${PROTOCOL_VERSION} build=${buildId}${stage}`);
  const prefixes = Object.values(MARKERS).map((marker) => `${marker} `);
  for (const line of lines) {
    expect(
      prefixes.some((prefix) => line.startsWith(prefix)),
      `line without marker: ${JSON.stringify(line)}`,
    ).to.equal(true);
  }
  const finals = lines.filter(
    (line) => line.startsWith(MARKERS.succeeded) || line.startsWith(MARKERS.failed),
  );
  expect(finals.length, "final markers").to.be.at.most(1);
  if (finals.length === 1) expect(lines[lines.length - 1]).to.equal(finals[0]);
}

/** Checks that `expected` occur in `lines` in this order (other lines may come between). */
export function expectInOrder(lines: string[], expected: string[]): void {
  let from = 0;
  for (const line of expected) {
    const at = lines.indexOf(line, from);
    expect(
      at,
      `${JSON.stringify(line)} after line ${from} of ${JSON.stringify(lines, null, 1)}`,
    ).to.be.at.least(0);
    from = at + 1;
  }
}

/** The final marker line of a run, or undefined. */
export function finalLine(serial: string): string | undefined {
  return serialLines(serial).find(
    (line) => line.startsWith(MARKERS.succeeded) || line.startsWith(MARKERS.failed),
  );
}
