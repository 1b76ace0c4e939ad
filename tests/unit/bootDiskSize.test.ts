import { expect } from "chai";
import type { ProvisionerStep } from "../../components/guest/protocol";
import { hasDiskLayoutStep, initialBootDiskSizeGb } from "../../components/pipeline/bootDiskSize";

const script: ProvisionerStep = { type: "runScript", script: "s.sh", env: {}, allowReboot: false };
const source = { diskSizeGb: 10 };

describe("the boot disk's initial size", () => {
  const cases: Array<[string, ProvisionerStep[], number]> = [
    ["no step", [], 20],
    ["scripts only", [script], 20],
    ["extendOemPartition", [script, { type: "extendOemPartition", sizeBytes: 2 ** 30 }], 10],
    ["sealOemPartition", [{ type: "sealOemPartition" }], 10],
    ["reclaimRootPartition", [{ type: "reclaimRootPartition" }], 10],
    ["disableAutoUpdate (reclaims ROOT-A)", [{ type: "disableAutoUpdate" }], 10],
  ];
  for (const [name, steps, expected] of cases) {
    it(`is ${expected} GB for diskSizeGb 20 on a 10 GB source with ${name}`, () => {
      expect(initialBootDiskSizeGb({ steps, image: { diskSizeGb: 20 } }, source)).to.equal(
        expected,
      );
      expect(hasDiskLayoutStep(steps)).to.equal(expected === 10);
    });
  }

  it("is never larger than diskSizeGb", () => {
    const steps: ProvisionerStep[] = [{ type: "reclaimRootPartition" }];
    expect(
      initialBootDiskSizeGb({ steps, image: { diskSizeGb: 10 } }, { diskSizeGb: 12 }),
    ).to.equal(10);
  });
});
