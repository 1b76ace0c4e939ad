import { expect } from "chai";
import {
  diskLayoutProblem,
  minimumDiskSizeGb,
  parseOemSize,
  type DiskLayout,
} from "../../components/validation/diskLayout";

/**
 * The disk-size arithmetic of the layout steps (components/validation/diskLayout.ts), checked
 * against COS Customizer's `validateOEM` (src/cmd/cos_customizer/finish_image_build.go): the disk
 * must hold the 10 GB image plus the OEM growth (doubled when sealed), less the 2046 MiB of a
 * reclaimed ROOT-A, rounded up to whole GB. Each threshold is tested at, and one byte or one GB past.
 */

const MiB = 2 ** 20;
const bytes = (size: string): number => {
  const parsed = parseOemSize(size);
  if (parsed === undefined) throw new Error(`bad size ${size}`);
  return parsed;
};

type Layout = Omit<DiskLayout, "diskSizeGb">;
const plain = (size: string | number): Layout => ({
  oemSizeBytes: typeof size === "number" ? size : bytes(size),
  sealOem: false,
  reclaimRoot: false,
});
const reclaimed = (size: string | number): Layout => ({ ...plain(size), reclaimRoot: true });
const sealed = (size: string | number): Layout => ({ ...reclaimed(size), sealOem: true });

/** [what, layout, the smallest disk in GB that holds it]. */
const TABLE: Array<[string, Layout, number]> = [
  ["no OEM growth", { sealOem: false, reclaimRoot: false }, 10],
  ["no OEM growth, ROOT-A reclaimed", { sealOem: false, reclaimRoot: true }, 10],
  [
    "sealed without a size (16M doubled, in the reclaimed space)",
    { sealOem: true, reclaimRoot: true },
    10,
  ],
  // Without a reclaim every extension takes whole GB beyond the image.
  ["16M (the minimum)", plain("16M"), 11],
  ["1G (COS Customizer's extend test: fits 11)", plain("1G"), 11],
  ["1G and one byte", plain(bytes("1G") + 1), 12],
  ["2G (extend test: 12)", plain("2G"), 12],
  ["3072M (COS Customizer's SmallDiskSize case: 11 is too small)", plain("3072M"), 13],
  ["10G (extend test: 20)", plain("10G"), 20],
  ["1024G (extend test: 1034)", plain("1024G"), 1034],
  // ROOT-A reclaimed: the first 2046 MiB are free.
  ["2046M reclaimed (exact fit in the image)", reclaimed("2046M"), 10],
  ["2046M and one byte reclaimed", reclaimed(2046 * MiB + 1), 11],
  ["3070M reclaimed (2046M + 1 GiB: exact fit in 11)", reclaimed("3070M"), 11],
  ["3070M and one byte reclaimed", reclaimed(3070 * MiB + 1), 12],
  ["4G reclaimed", reclaimed("4G"), 13],
  // Sealed: the partition doubles for the hash tree; ROOT-A is always reclaimed.
  ["50M sealed (COS Customizer's seal test: 10)", sealed("50M"), 10],
  ["1023M sealed (2046M: exact fit in the image)", sealed("1023M"), 10],
  ["1023M and one byte sealed", sealed(1023 * MiB + 1), 11],
  ["1G sealed (seal test: fits 11)", sealed("1G"), 11],
  ["1535M sealed (3070M: exact fit in 11)", sealed("1535M"), 11],
  ["1535M and one byte sealed", sealed(1535 * MiB + 1), 12],
  ["2G sealed (seal test: fits 13)", sealed("2G"), 13],
];

const formula = (layout: Layout): string =>
  layout.sealOem
    ? "OEM size x 2 - reclaimed space (2046 MiB) + image size (10 GB)"
    : layout.reclaimRoot
      ? "OEM size - reclaimed space (2046 MiB) + image size (10 GB)"
      : "OEM size + image size (10 GB)";

describe("disk layout arithmetic (COS Customizer's rules)", () => {
  for (const [what, layout, minimum] of TABLE) {
    it(`${what}: needs ${minimum} GB, refuses ${minimum - 1} GB`, () => {
      expect(minimumDiskSizeGb(layout)).to.equal(minimum);
      expect(diskLayoutProblem({ ...layout, diskSizeGb: minimum })).to.equal(undefined);
      expect(diskLayoutProblem({ ...layout, diskSizeGb: minimum + 1 })).to.equal(undefined);
      if (minimum > 10) {
        expect(diskLayoutProblem({ ...layout, diskSizeGb: minimum - 1 })).to.equal(
          `is ${minimum - 1} GB, but the disk layout needs at least ${minimum} GB (${formula(layout)})`,
        );
      }
    });
  }
});
