import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { PreloadedCosImage } from "preloaded-cos-image";

// Hello world: a COS image whose build script writes /var/lib/hello, then an instance template
// that boots VMs from it. Set gcp:project and gcp:zone on the stack first.
const image = new PreloadedCosImage("hello", {
  sourceImageFamily: "cos-stable",
  buildContext: "image",
  steps: [{ runScript: { script: "hello.sh", env: { GREETING: "hello, world" } } }],
  imageFamily: "hello-cos",
  imageLabels: { example: "hello" },
});

const template = new gcp.compute.InstanceTemplate("hello", {
  machineType: "e2-small",
  disks: [{ sourceImage: image.imageSelfLink, boot: true, autoDelete: true, diskSizeGb: 10 }],
  networkInterfaces: [{ network: "default" }],
  metadata: { "cos-update-strategy": "update_disabled" },
  labels: { example: "hello" },
});

export const imageName = image.imageName;
export const imageSelfLink = image.imageSelfLink;
export const sourceImage = image.sourceImage;
export const instanceTemplate = template.selfLink;
export const greeting = pulumi.interpolate`VMs from ${image.imageName} find "hello, world" in /var/lib/hello`;
