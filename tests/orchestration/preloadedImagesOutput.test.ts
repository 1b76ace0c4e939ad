/**
 * The build resource records in its outputs (the Pulumi state) the digests that the guest's
 * `preloadImages` step reports pulling, and keeps them through an in-place update. The e2e tier
 * proves the same against a real registry on the QEMU guest (tests/e2e/preloadContainers.test.ts).
 */
import { expect } from "chai";
import type { ImageBuildOutputs } from "../../components/provider/inputs";
import * as runtime from "../../components/provider/runtime";
import { FAST_PIPELINE, buildFixture, type BuildFixture } from "./buildHarness";

describe("the build resource's preloadedImages output", function () {
  this.timeout(60_000);
  let f: BuildFixture | undefined;
  afterEach(async () => f?.close());

  it("holds each image, runtime and digest pulled, and an update keeps them", async () => {
    const digests = [`sha256:${"ab".repeat(32)}`, `sha256:${"cd".repeat(32)}`];
    const reports = [
      `pulled registry.example.com/team/app:1 into containerd: ${digests[0]}`,
      `pulled registry.example.com/team/app:1 into docker: ${digests[1]}`,
    ];
    let next = 0;
    f = await buildFixture(
      { defaultGuest: { statusLines: 2, statusText: () => reports[next++ % 2] } },
      FAST_PIPELINE,
    );
    const inputs = f.inputs({
      steps: [{ preloadImages: { images: ["registry.example.com/team/app:1"] } }],
    });
    const { id, outs } = await f.build(inputs);
    const expected = [
      { image: "registry.example.com/team/app:1", runtime: "containerd", digest: digests[0] },
      { image: "registry.example.com/team/app:1", runtime: "docker", digest: digests[1] },
    ];
    expect(outs.preloadedImages).to.deep.equal(expected);

    const relabelled = {
      ...outs,
      args: { ...outs.args, imageLabels: { team: "web" } },
    };
    const updated = await runtime.update(id, outs, relabelled);
    expect((updated.outs as ImageBuildOutputs | undefined)?.preloadedImages).to.deep.equal(
      expected,
    );
  });

  it("is empty for a build without preloadImages", async () => {
    f = await buildFixture({}, FAST_PIPELINE);
    const { outs } = await f.build(f.inputs());
    expect(outs.preloadedImages).to.deep.equal([]);
  });
});
