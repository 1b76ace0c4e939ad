import { expect } from "chai";
import { contentHashOf, redactedSteps, secretsDigest } from "../../components/pipeline/contentHash";
import { toBuildSpec, type BuildSpec } from "../../components/pipeline/spec";
import { HASH_FACTS, specInputs } from "./helpers/specInputs";

describe("build spec", () => {
  it("applies every documented default", () => {
    const spec = toBuildSpec(specInputs());
    expect(spec.source).to.deep.equal({
      kind: "family",
      project: "cos-cloud",
      family: "cos-stable",
    });
    expect(spec.contextDir).to.equal("/home/me/infra/image");
    expect(spec.image).to.deep.include({
      project: "my-project",
      diskSizeGb: 10,
      inheritSourceLabels: false,
      deprecateOlderImages: false,
    });
    expect(spec.vm).to.deep.include({
      machineType: "e2-standard-2",
      diskType: "pd-balanced",
      network: "projects/my-project/global/networks/default",
      subnetwork: undefined,
      serviceAccountEmail: undefined,
      scopes: ["https://www.googleapis.com/auth/cloud-platform"],
      externalIp: true,
      provisioningModel: "STANDARD",
      preemptionRetries: 2,
    });
    expect(spec.storage).to.deep.equal({ bucket: "scratch", prefix: "preloaded-cos-image" });
    expect(spec.timeoutMs).to.equal(60 * 60_000);
    expect(spec.steps).to.deep.equal([
      { type: "runScript", script: "setup.sh", env: { A: "1" }, allowReboot: false },
    ]);
  });

  it("uses an N1 machine for GPUs and expands names into URLs", () => {
    const spec = toBuildSpec(
      specInputs({
        gpuType: "nvidia-tesla-t4",
        subnetwork: "builders",
        network: "shared",
        serviceAccountScopes: ["devstorage.read_only"],
      }),
    );
    expect(spec.vm.machineType).to.equal("n1-standard-4");
    expect(spec.vm.gpu).to.deep.equal({ type: "nvidia-tesla-t4", count: 1 });
    expect(spec.vm.network).to.equal("projects/my-project/global/networks/shared");
    expect(spec.vm.subnetwork).to.equal(
      "projects/my-project/regions/europe-west4/subnetworks/builders",
    );
    expect(spec.vm.scopes).to.deep.equal(["https://www.googleapis.com/auth/devstorage.read_only"]);
  });

  it("turns every step kind into the provisioner's form, secrets merged back", () => {
    const spec = toBuildSpec(
      specInputs(
        {
          gpuType: "nvidia-l4",
          steps: [
            { runScript: { script: "a.sh", env: { PLAIN: "p" }, allowReboot: true } },
            { installGpuDriver: {} },
            {
              preloadImages: {
                images: ["nginx:1"],
                runtime: "containerd",
                credentials: [{ registry: "ghcr.io" } as never],
              },
            },
            { disableAutoUpdate: {} },
            { extendOemPartition: { size: "1G" } },
          ],
        },
        {
          env: { "0": { TOKEN: "t0k3n" } },
          credentials: { "2": [{ username: "u", password: "pw" }] },
        },
      ),
    );
    expect(spec.steps).to.deep.equal([
      { type: "runScript", script: "a.sh", env: { PLAIN: "p", TOKEN: "t0k3n" }, allowReboot: true },
      {
        type: "installGpuDriver",
        version: "default",
        md5sum: "",
        installDir: "/var/lib/nvidia",
        depsDir: "",
      },
      {
        type: "preloadImages",
        images: ["nginx:1"],
        runtimes: ["containerd"],
        useServiceAccount: true,
        credentials: [{ registry: "ghcr.io", username: "u", password: "pw" }],
      },
      { type: "disableAutoUpdate" },
      { type: "extendOemPartition", sizeBytes: 2 ** 30 },
    ]);
  });

  it("selects the source by image URL, by family or by milestone", () => {
    expect(
      toBuildSpec(
        specInputs({
          sourceImageFamily: undefined,
          sourceImage: "https://www.googleapis.com/compute/v1/projects/p-1234/global/images/x",
        }),
      ).source,
    ).to.deep.equal({ kind: "image", image: { project: "p-1234", name: "x" } });
    expect(
      toBuildSpec(specInputs({ sourceImageFamily: undefined, sourceImageMilestone: 121 })).source,
    ).to.deep.equal({ kind: "milestone", project: "cos-cloud", milestone: 121 });
  });
});

describe("content hash", () => {
  const base = (): BuildSpec => toBuildSpec(specInputs());

  it("is stable for equal inputs and ignores how the build runs", () => {
    const a = contentHashOf(base(), HASH_FACTS);
    const mechanics = toBuildSpec(
      specInputs({
        machineType: "n2-standard-8",
        network: "other",
        bucket: "elsewhere",
        buildTimeoutMinutes: 120,
        imageLabels: { team: "x" },
        vmLabels: { a: "b" },
      }),
    );
    expect(contentHashOf(mechanics, HASH_FACTS)).to.equal(a);
    expect(a).to.match(/^[0-9a-f]{64}$/);
  });

  it("changes with everything that shapes the image", () => {
    const a = contentHashOf(base(), HASH_FACTS);
    const changed: Array<[string, string]> = [
      [
        "source image",
        contentHashOf(base(), {
          ...HASH_FACTS,
          sourceImage: "projects/cos-cloud/global/images/cos-stable-2",
        }),
      ],
      ["source id", contentHashOf(base(), { ...HASH_FACTS, sourceImageId: "2" })],
      ["context", contentHashOf(base(), { ...HASH_FACTS, contextHash: "c0ffef" })],
      ["guest code", contentHashOf(base(), { ...HASH_FACTS, guestCodeHash: "9e57c0df" })],
      [
        "env value",
        contentHashOf(
          toBuildSpec(
            specInputs({ steps: [{ runScript: { script: "setup.sh", env: { A: "2" } } }] }),
          ),
          HASH_FACTS,
        ),
      ],
      [
        "step order",
        contentHashOf(
          toBuildSpec(
            specInputs({
              steps: [
                { disableAutoUpdate: {} },
                { runScript: { script: "setup.sh", env: { A: "1" } } },
              ],
            }),
          ),
          HASH_FACTS,
        ),
      ],
      ["family", contentHashOf(toBuildSpec(specInputs({ imageFamily: "web" })), HASH_FACTS)],
      ["disk size", contentHashOf(toBuildSpec(specInputs({ diskSizeGb: 20 })), HASH_FACTS)],
      [
        "licenses",
        contentHashOf(
          toBuildSpec(
            specInputs({ imageLicenses: ["projects/cos-cloud/global/licenses/cos-gpu"] }),
          ),
          HASH_FACTS,
        ),
      ],
      [
        "secret",
        contentHashOf(
          toBuildSpec(specInputs({}, { env: { "0": { S: "x" } }, credentials: {} })),
          HASH_FACTS,
        ),
      ],
    ];
    for (const [what, hash] of changed) expect(hash, what).not.to.equal(a);
    expect(new Set(changed.map(([, h]) => h)).size).to.equal(changed.length);
  });

  it("keeps secret values out of what it shows and digests them slowly with a salt", () => {
    const spec = toBuildSpec(
      specInputs({}, { env: { "0": { TOKEN: "hunter2" } }, credentials: {} }),
    );
    expect(JSON.stringify(redactedSteps(spec))).not.to.include("hunter2");
    const digest = secretsDigest(spec);
    expect(digest).to.match(/^[0-9a-f]{64}$/);
    expect(secretsDigest({ ...spec, ownerId: "another-owner" })).not.to.equal(digest);
  });
});
