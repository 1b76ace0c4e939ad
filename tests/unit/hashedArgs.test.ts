import { expect } from "chai";
import type { PreloadedCosImageArgs } from "../../components/args";
import { canonicalJson, contentHashOf } from "../../components/pipeline/contentHash";
import { ARG_HASH_ROLES, ARGS_OUTSIDE_THE_HASH } from "../../components/pipeline/hashedArgs";
import { toBuildSpec } from "../../components/pipeline/spec";
import { ARG_KEYS } from "../../components/validation/keys";
import { HASH_FACTS, specInputs } from "./helpers/specInputs";

/**
 * For every argument, a change to it: `to` on top of `from` (default: nothing). A new argument
 * needs a line here (the Record type fails to compile otherwise), so the check below covers it.
 */
const CHANGES: Record<
  keyof PreloadedCosImageArgs,
  { from?: Record<string, unknown>; to: Record<string, unknown> }
> = {
  sourceImage: {
    to: { sourceImageFamily: undefined, sourceImage: "projects/cos-cloud/global/images/cos-9" },
  },
  sourceImageFamily: { to: { sourceImageFamily: "cos-dev" } },
  sourceImageMilestone: { to: { sourceImageFamily: undefined, sourceImageMilestone: 121 } },
  sourceImageProject: { to: { sourceImageProject: "my-images" } },
  buildContext: { to: { buildContext: "other" } },
  extraFiles: { to: { extraFiles: { "a.txt": "files/a.txt" } } },
  steps: { to: { steps: [{ disableAutoUpdate: {} }] } },
  imageName: { to: { imageName: "fixed" } },
  imageNameSuffix: { to: { imageNameSuffix: "v2" } },
  imageProject: { to: { imageProject: "image-project" } },
  imageFamily: { to: { imageFamily: "web" } },
  imageDescription: { to: { imageDescription: "mine" } },
  imageLabels: { to: { imageLabels: { team: "x" } } },
  inheritSourceLabels: { to: { inheritSourceLabels: true } },
  imageLicenses: { to: { imageLicenses: ["projects/cos-cloud/global/licenses/cos-gpu"] } },
  deprecateOlderImages: { to: { deprecateOlderImages: true } },
  deprecatedImageTtlDays: {
    from: { deprecateOlderImages: true },
    to: { deprecateOlderImages: true, deprecatedImageTtlDays: 7 },
  },
  imageStorageLocations: { to: { imageStorageLocations: ["eu"] } },
  guestOsFeatures: { to: { guestOsFeatures: ["GVNIC"] } },
  diskSizeGb: { to: { diskSizeGb: 20 } },
  project: { to: { project: "other-project" } },
  zone: { to: { zone: "us-east1-b" } },
  machineType: { to: { machineType: "n2-standard-8" } },
  diskType: { to: { diskType: "pd-ssd" } },
  network: { to: { network: "other" } },
  subnetwork: { to: { subnetwork: "regions/europe-west4/subnetworks/builds" } },
  serviceAccountEmail: {
    to: { serviceAccountEmail: "builder@my-project.iam.gserviceaccount.com" },
  },
  serviceAccountScopes: {
    to: { serviceAccountScopes: ["https://www.googleapis.com/auth/cloud-platform"] },
  },
  networkTags: { to: { networkTags: ["build"] } },
  externalIp: { to: { externalIp: false } },
  gpuType: { to: { gpuType: "nvidia-l4" } },
  gpuCount: {
    from: { gpuType: "nvidia-tesla-t4" },
    to: { gpuType: "nvidia-tesla-t4", gpuCount: 2 },
  },
  vmProvisioningModel: { to: { vmProvisioningModel: "SPOT" } },
  preemptionRetries: {
    from: { vmProvisioningModel: "SPOT" },
    to: { vmProvisioningModel: "SPOT", preemptionRetries: 3 },
  },
  vmLabels: { to: { vmLabels: { a: "b" } } },
  bucket: { to: { bucket: "elsewhere" } },
  bucketPrefix: { to: { bucketPrefix: "builds/" } },
  buildTimeoutMinutes: { to: { buildTimeoutMinutes: 120 } },
  apiEndpoints: { to: { apiEndpoints: { compute: "http://127.0.0.1:1" } } },
};

describe("which arguments shape the image (components/pipeline/hashedArgs.ts)", () => {
  it("classifies every argument the validation knows, and no other", () => {
    expect(Object.keys(ARG_HASH_ROLES).sort()).to.deep.equal([...ARG_KEYS].sort());
    expect(Object.keys(CHANGES).sort()).to.deep.equal([...ARG_KEYS].sort());
  });

  for (const key of ARG_KEYS) {
    const role = ARG_HASH_ROLES[key];
    it(`${key}: ${role === "outside" ? "the hash ignores a change to it" : `a change to it reaches the hash (${role})`}`, () => {
      const change = CHANGES[key];
      const before = toBuildSpec(specInputs(change.from ?? {}));
      const after = toBuildSpec(specInputs(change.to));
      const hashBefore = contentHashOf(before, HASH_FACTS);
      const hashAfter = contentHashOf(after, HASH_FACTS);
      if (role === "outside") {
        expect(ARGS_OUTSIDE_THE_HASH.has(key)).to.equal(true);
        expect(hashAfter, `${key} is listed outside the hash but changes it`).to.equal(hashBefore);
        return;
      }
      expect(ARGS_OUTSIDE_THE_HASH.has(key)).to.equal(false);
      if (role === "spec") {
        expect(
          hashAfter,
          `${key} is listed as shaping the image but the hash ignores it`,
        ).not.to.equal(hashBefore);
      } else if (role === "source") {
        // The hash sees the source through the image it resolves to (the HASH_FACTS).
        expect(canonicalJson(after.source)).not.to.equal(canonicalJson(before.source));
      } else {
        // The hash sees local files through their content (the context hash of the HASH_FACTS).
        expect(canonicalJson([after.contextDir, after.extraFiles])).not.to.equal(
          canonicalJson([before.contextDir, before.extraFiles]),
        );
      }
    });
  }
});
