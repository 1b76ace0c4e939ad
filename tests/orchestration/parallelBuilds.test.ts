import { expect } from "chai";
import { ownerIdOf } from "../../components/naming";
import { BUCKET, buildFixture, expectNoTemporaries, type BuildFixture } from "./buildHarness";

/**
 * Several components of one program building at once (the matrix example): their temporaries are
 * named after their own build ids, each build's sweep looks only at its own component's leftovers,
 * and a share of the API's answers are 429s, which every build backs off from and retries.
 */
describe("parallel builds, on the emulator", function () {
  this.timeout(300_000);
  let f: BuildFixture;
  afterEach(async () => f?.close());

  it("runs 8 builds at once under 429s, each to its own image, and leaves no temporary", async () => {
    f = await buildFixture({
      errorRates: [
        { method: "compute.*", rate: 0.05, status: 429 },
        { method: "storage.objects.*", rate: 0.05, status: 429 },
      ],
    });
    const secrets = { env: { "0": { TOKEN: "t" } } };
    // A leftover of a killed earlier build of the first component, which that build's sweep takes.
    await f.clients.storage
      .bucket(BUCKET)
      .file("preloaded-cos-image/killed0001/cidata.tar.gz")
      .save("x", {
        resumable: false,
        metadata: {
          metadata: {
            "pci-owner": ownerIdOf("infra", "dev", "matrix-0"),
            "pci-build": "killed0001",
            "pci-created": "1",
          },
        },
      });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        // Half of them take the bucket (secrets), half the metadata.
        f.build(f.inputs({}, i % 2 ? secrets : {}, `matrix-${i}`)),
      ),
    );
    const images = results.map((r) => r.outs.imageName);
    expect(new Set(images).size).to.equal(8);
    expect(f.emulator.requestLog.count("compute.instances.insert")).to.be.at.least(8);
    const injected = f.emulator.requestLog.entries().filter((e) => e.injectedFault).length;
    expect(injected, "429s answered").to.be.greaterThan(0);
    // Only the first component's sweep found something, its own killed build's object; the others'
    // live temporaries were never taken (else their builds would have failed).
    expect(f.progress.filter((l) => l.includes("leftover(s) of earlier builds"))).to.deep.equal([
      "deleting 1 leftover(s) of earlier builds: object gs://scratch-bucket/preloaded-cos-image/killed0001/cidata.tar.gz",
    ]);
    expectNoTemporaries(f.emulator, images);
  });
});
