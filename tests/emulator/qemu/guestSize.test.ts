import { expect } from "chai";
import { guestSize } from "../../../emulator/qemu/guestSize";

describe("guestSize: a QEMU guest's vCPUs and memory from its machine type", () => {
  // The project's test machine: 2 cores, about 24 GiB.
  const host = { memoryMiB: 24_105, cores: 2 };

  it("gives a type that fits the host its own vCPUs and memory", () => {
    expect(guestSize({ guestCpus: 2, memoryMb: 8192 }, host)).to.deep.equal({
      cpus: 2,
      memoryMiB: 8192,
    });
    expect(
      guestSize({ guestCpus: 1, memoryMb: 614 }, host),
      "f1-micro keeps its 614 MiB",
    ).to.deep.equal({
      cpus: 1,
      memoryMiB: 614,
    });
  });

  it("caps vCPUs at the host's cores and memory at half of what the host spares", () => {
    // n1-standard-4: 4 vCPUs, 15 GiB; (24105 - 4096) / 2 = 10004 MiB.
    expect(guestSize({ guestCpus: 4, memoryMb: 15_360 }, host)).to.deep.equal({
      cpus: 2,
      memoryMiB: 10_004,
    });
  });

  it("never caps memory below 1 GiB, however small the host", () => {
    expect(
      guestSize({ guestCpus: 2, memoryMb: 8192 }, { memoryMiB: 3000, cores: 1 }),
    ).to.deep.equal({
      cpus: 1,
      memoryMiB: 1024,
    });
  });
});
