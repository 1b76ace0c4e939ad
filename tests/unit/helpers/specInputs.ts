import type { ImageBuildInputs } from "../../../components/provider/inputs";

/** A build's inputs for the spec and hash tests: a small valid set of arguments, `args` on top. */
export function specInputs(
  args: Record<string, unknown> = {},
  secrets?: ImageBuildInputs["secrets"],
): ImageBuildInputs {
  return {
    namePrefix: "web",
    ownerId: "0123456789abcdef",
    programDir: "/home/me/infra",
    args: {
      sourceImageFamily: "cos-stable",
      project: "my-project",
      zone: "europe-west4-b",
      bucket: "scratch",
      buildContext: "image",
      steps: [{ runScript: { script: "setup.sh", env: { A: "1" } } }],
      ...args,
    },
    secrets: secrets ?? { env: {}, credentials: {} },
  };
}

/** What the build learns before hashing (the resolved source, the context and guest code hashes). */
export const HASH_FACTS = {
  sourceImage: "projects/cos-cloud/global/images/cos-stable-1",
  sourceImageId: "1",
  contextHash: "c0ffee",
  guestCodeHash: "9e57c0de",
};
