import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { PreloadedCosImage } from "preloaded-cos-image";

// A GPU image: the driver is installed at build time (on a preload VM that has the GPU, so the
// installation is verified with nvidia-smi), and loaded at every boot of the instances.
//   pulumi config set gpuType nvidia-l4          # optional, default nvidia-tesla-t4
//   pulumi config set driverVersion 535.183.01   # optional, default: what the COS release recommends
const config = new pulumi.Config();
const gpuType = config.get("gpuType") ?? "nvidia-tesla-t4";
const driverVersion = config.get("driverVersion") ?? "default";
const installDir = "/var/lib/nvidia";

const image = new PreloadedCosImage("gpu", {
  sourceImageFamily: "cos-stable",
  gpuType,
  steps: [{ installGpuDriver: { version: driverVersion, installDir } }, { disableAutoUpdate: {} }],
  imageFamily: "gpu-cos",
  imageLabels: { example: "gpu" },
});

// COS's /etc is a tmpfs, lost at every reboot: the unit the driver step wrote into installDir is
// linked and started by cloud-init at every boot (bootcmd runs at every boot).
export const bootTimeSetup = [
  "#cloud-config",
  "bootcmd:",
  `  - systemctl link ${installDir}/preloaded-cos-image-gpu.service`,
  "  - systemctl start --no-block preloaded-cos-image-gpu.service",
  "",
].join("\n");

const template = new gcp.compute.InstanceTemplate("gpu", {
  namePrefix: "gpu-cos-",
  machineType: "n1-standard-4",
  disks: [{ sourceImage: image.imageSelfLink, boot: true, autoDelete: true, diskSizeGb: 20 }],
  // The GPU the driver was installed for; GPUs cannot live-migrate, so instances stop for host
  // maintenance.
  guestAccelerators: [{ type: gpuType, count: 1 }],
  scheduling: { onHostMaintenance: "TERMINATE", automaticRestart: true },
  networkInterfaces: [{ network: "default" }],
  metadata: { "user-data": bootTimeSetup, "cos-update-strategy": "update_disabled" },
  labels: { example: "gpu" },
});

export const imageName = image.imageName;
export const imageSelfLink = image.imageSelfLink;
export const instanceTemplate = template.selfLink;
