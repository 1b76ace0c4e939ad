import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { PreloadedCosImage, type BuildStepArgs } from "preloaded-cos-image";

// Containers from a private registry, preloaded so instances start them without a download. The
// registry and the images come from stack configuration, the credentials from its secrets:
//   pulumi config set registryHost registry.example.com    # default registry.example.com
//   pulumi config set registryPort 5000                    # optional
//   pulumi config set --path 'images[0]' team/app@sha256:<64 hex digits>
//   pulumi config set registryUser robot
//   pulumi config set --secret registryPassword '<token>'
//   pulumi config set registryCaFile ./registry-ca.pem          # optional: a registry whose
//                                                              # certificate a private CA signs
const config = new pulumi.Config();
const port = config.getNumber("registryPort");
const registry = `${config.get("registryHost") ?? "registry.example.com"}${port ? `:${port}` : ""}`;
// By digest: a tag pushed again under the same name would not rebuild the image (see README).
const images = config.requireObject<string[]>("images").map((image) => `${registry}/${image}`);
const credentials = [
  {
    registry,
    username: config.require("registryUser"),
    password: config.requireSecret("registryPassword"),
  },
];

// A registry with a private CA: the build VM trusts it for the build only (trust-ca/trust-ca.sh;
// COS's /etc is a tmpfs, so the trust is not in the image). The path is relative to this program.
const caFile = config.get("registryCaFile");
const trustCa: BuildStepArgs[] = caFile
  ? [
      {
        runScript: {
          script: "trust-ca.sh",
          env: { REGISTRY_CA: fs.readFileSync(caFile, "utf8"), REGISTRY_HOST: registry },
        },
      },
    ]
  : [];
const buildContext = caFile ? "trust-ca" : undefined;

// GKE-style nodes read containerd's k8s.io namespace; plain COS VMs run docker.
const nodeImage = new PreloadedCosImage("gke-node", {
  sourceImageFamily: "cos-stable",
  buildContext,
  steps: [...trustCa, { preloadImages: { images, runtime: "containerd", credentials } }],
  imageFamily: "preloaded-gke-node",
  imageLabels: { example: "preloaded-containers" },
});
const vmImage = new PreloadedCosImage("docker-vm", {
  sourceImageFamily: "cos-stable",
  buildContext,
  steps: [
    ...trustCa,
    { preloadImages: { images, runtime: "docker", credentials } },
    { disableAutoUpdate: {} },
  ],
  imageFamily: "preloaded-docker-vm",
  imageLabels: { example: "preloaded-containers" },
});

export const registryServer = registry;
export const preloaded = images;
export const nodeImageName = nodeImage.imageName;
export const vmImageName = vmImage.imageName;
// What each build pulled, image by image, with the digest the registry served.
export const nodeImagePulled = nodeImage.preloadedImages;
export const vmImagePulled = vmImage.preloadedImages;
