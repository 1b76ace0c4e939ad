/**
 * The disk arithmetic of the layout steps (provisioner-assets/steps/disk-layout/layout-arithmetic.sh)
 * called directly in bash, as a table: COS Customizer's 1 MiB shrink of the OEM partition, the
 * relocation plan with and without the ROOT-A reclaim, its exact-fit cases, and when the layout
 * counts as done.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { ASSETS_DIR } from "./harness/paths";

const ARITHMETIC = path.join(ASSETS_DIR, "steps", "disk-layout", "layout-arithmetic.sh");
const MIB = 1024 * 1024;
const GIB_SECTORS = 2 * 1024 * 1024;
/** The stand-in's (and COS 81's) ROOT-A and STATE starts, OEM size. */
const ROOT_A_START = 4509696;
const STATE_START = 8704000;
const OEM_SECTORS = 32768;

/** Runs `function args...` of the arithmetic file; returns its output, or "fail" for status 1. */
function call(...words: Array<string | number | boolean>): string {
  const result = spawnSync(
    "bash",
    ["-c", `set -euo pipefail; source "$0"; "$@"`, ARITHMETIC, ...words.map(String)],
    { encoding: "utf8" },
  );
  if (result.status === 1 && result.stdout === "") return "fail";
  if (result.status !== 0) throw new Error(`${words.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

/**
 * `relocation_plan` on the stand-in's layout (ROOT-A, STATE and OEM where COS 81 has them): its
 * output "<start point> <new STATE start> <new OEM start> <new OEM size>".
 */
function relocationPlan(reclaim: boolean, oemTargetSectors: number): string {
  return call("relocation_plan", reclaim, oemTargetSectors, ROOT_A_START, STATE_START, OEM_SECTORS);
}

describe("provisioner: the disk-layout arithmetic", () => {
  const oemCases: Array<[string, number, boolean, number]> = [
    ["1G", 1024 * MIB, false, 1023],
    ["1G sealed", 1024 * MIB, true, 2047],
    ["50M sealed", 50 * MIB, true, 99],
    ["16M sealed (seal without a size)", 16 * MIB, true, 31],
    ["100M", 100 * MIB, false, 99],
    ["1G + 512 KiB (floored to whole MiB)", 1024 * MIB + 512 * 1024, false, 1023],
    ["3G", 3 * 1024 * MIB, false, 3071],
  ];
  for (const [name, bytes, seal, mib] of oemCases) {
    it(`OEM partition for ${name}: ${mib} MiB (COS Customizer's 1 MiB shrink)`, () => {
      expect(call("oem_partition_sectors", bytes, seal)).to.equal(String(mib * 2048));
    });
  }

  it("plans a reclaim without OEM growth: STATE 2 MiB after ROOT-A's start, OEM stays", () => {
    expect(relocationPlan(true, 0)).to.equal(`${ROOT_A_START + 4096} ${ROOT_A_START + 4096} 0 0`);
  });

  it("plans OEM growth without a reclaim: OEM at STATE's start, STATE after it", () => {
    const target = 1023 * 2048;
    expect(relocationPlan(false, target)).to.equal(
      `${STATE_START} ${STATE_START + target} ${STATE_START} ${target}`,
    );
  });

  it("rounds STATE's new start down to 4 KiB, OEM ending just before it", () => {
    const target = 1023 * 2048 + 3;
    const [start, state, oemStart, oemSize] = relocationPlan(true, target).split(" ").map(Number);
    expect(state % 8).to.equal(0);
    expect(state).to.be.at.most(start + target);
    expect(oemStart).to.equal(start);
    expect(oemStart + oemSize).to.equal(state);
  });

  it("leaves OEM alone when it is already as large as asked", () => {
    expect(relocationPlan(true, 16000)).to.equal(
      `${ROOT_A_START + 4096} ${ROOT_A_START + 4096} 0 0`,
    );
  });

  // COS Customizer's exact-fit cases: the smallest disk its size rule allows still leaves STATE
  // room after the layout (the 1 MiB shrink is what makes 1G on 11 GB fit beside the alignment).
  const fits: Array<[string, boolean, number, number]> = [
    ["1G on 11 GB, no reclaim", false, 1023 * 2048, 11],
    ["1G sealed on 12 GB, with the reclaim", true, 2047 * 2048, 12],
    ["2046M on 10 GB, with the reclaim", true, 2045 * 2048, 10],
    ["3G sealed on 15 GB, with the reclaim", true, 6143 * 2048, 15],
  ];
  for (const [name, reclaim, target, diskGb] of fits) {
    it(`fits ${name}: STATE keeps room for what it held on the source image`, () => {
      const [, state] = relocationPlan(reclaim, target).split(" ").map(Number);
      const room = Number(call("state_room", state, diskGb * GIB_SECTORS));
      // The source image's STATE (8704000 .. 18874476) moved by the OEM growth less the reclaimed
      // space must still fit: what STATE held on the 10 GB source disk.
      const sourceState = 18874476 - STATE_START + 1;
      expect(room, "sectors for STATE").to.be.greaterThan(sourceState);
    });
  }

  const done: Array<[string, Array<string | number>, string]> = [
    [
      "a fresh disk needs the reclaim",
      ["true", 0, ROOT_A_START, 4194304, STATE_START, 86016],
      "fail",
    ],
    ["a reclaimed disk is done", ["true", 0, ROOT_A_START, 8, ROOT_A_START + 4096, 86016], ""],
    [
      "a shrunk ROOT-A with STATE not moved is not done",
      ["true", 0, ROOT_A_START, 8, STATE_START, 86016],
      "fail",
    ],
    [
      "OEM growth: OEM before ROOT-A is not done",
      ["false", 2095104, ROOT_A_START, 4194304, STATE_START, 86016],
      "fail",
    ],
    [
      "OEM growth: OEM after ROOT-A is done",
      ["false", 2095104, ROOT_A_START, 4194304, 10799104, STATE_START],
      "",
    ],
    ["nothing to do is done", ["false", 0, ROOT_A_START, 4194304, STATE_START, 86016], ""],
  ];
  for (const [name, args, expected] of done) {
    it(`layout_relocated: ${name}`, () => {
      expect(call("layout_relocated", ...args)).to.equal(expected);
    });
  }
});
