import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { PreloadedCosImage } from "preloaded-cos-image";

// Roll a new image out to a fleet. A change to image/setup.sh (or anything else that shapes the
// image) makes `pulumi up`:
//   1. build the new image (generated name: the old one still exists meanwhile),
//   2. create a new instance template for it (create-before-delete: namePrefix gives it a new name),
//   3. update the group to the new template (it replaces its instances, one surge instance at a time),
//   4. delete the old template, then the old image: each only once nothing uses it.
const config = new pulumi.Config();

const image = new PreloadedCosImage("web", {
  sourceImageFamily: "cos-stable",
  buildContext: "image",
  steps: [{ runScript: { script: "setup.sh" } }, { disableAutoUpdate: {} }],
  imageFamily: "web-cos",
  imageLabels: { example: "fleet-rollout" },
});

const template = new gcp.compute.InstanceTemplate("web", {
  // A prefix, not a fixed name: the replacement template is created before the old one is deleted.
  namePrefix: "web-",
  machineType: "e2-small",
  disks: [{ sourceImage: image.imageSelfLink, boot: true, autoDelete: true, diskSizeGb: 10 }],
  networkInterfaces: [{ network: "default" }],
  metadata: { "cos-update-strategy": "update_disabled" },
  labels: { example: "fleet-rollout" },
});

const group = new gcp.compute.InstanceGroupManager("web", {
  zone: gcp.config.zone,
  baseInstanceName: "web",
  targetSize: config.getNumber("size") ?? 2,
  // selfLinkUnique names this very template: a template recreated under the same name is another.
  versions: [{ name: "primary", instanceTemplate: template.selfLinkUnique }],
  updatePolicy: {
    type: "PROACTIVE",
    minimalAction: "REPLACE",
    maxSurgeFixed: 1,
    maxUnavailableFixed: 0,
  },
});

export const imageName = image.imageName;
export const instanceTemplate = template.selfLink;
export const instanceGroup = group.instanceGroup;
