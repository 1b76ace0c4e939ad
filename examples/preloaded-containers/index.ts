import * as pulumi from "@pulumi/pulumi";
import { PreloadedCosImage } from "preloaded-cos-image";

// Containers from a private registry, preloaded so instances start them without a download. The
// registry and the images come from stack configuration, the credentials from its secrets:
//   pulumi config set registryHost registry.example.com    # default registry.example.com
//   pulumi config set registryPort 5000                    # optional
//   pulumi config set --path 'images[0]' team/app@sha256:<64 hex digits>
//   pulumi config set registryUser robot
//   pulumi config set --secret registryPassword '<token>'
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

// GKE-style nodes read containerd's k8s.io namespace; plain COS VMs run docker.
const nodeImage = new PreloadedCosImage("gke-node", {
  sourceImageFamily: "cos-stable",
  steps: [{ preloadImages: { images, runtime: "containerd", credentials } }],
  imageFamily: "preloaded-gke-node",
  imageLabels: { example: "preloaded-containers" },
});
const vmImage = new PreloadedCosImage("docker-vm", {
  sourceImageFamily: "cos-stable",
  steps: [{ preloadImages: { images, runtime: "docker", credentials } }, { disableAutoUpdate: {} }],
  imageFamily: "preloaded-docker-vm",
  imageLabels: { example: "preloaded-containers" },
});

export const registryServer = registry;
export const preloaded = images;
export const nodeImageName = nodeImage.imageName;
export const vmImageName = vmImage.imageName;
