import * as pulumi from "@pulumi/pulumi";
import { PreloadedCosImage } from "preloaded-cos-image";

// One image per COS milestone and NVIDIA driver version. Pulumi runs the builds in parallel (each
// on its own preload VM). Every component name is unique, so the generated image names, the
// temporaries' labels and the scratch objects of the builds never collide.
//   pulumi config set --path 'milestones[0]' 117
//   pulumi config set --path 'driverVersions[0]' 535.230.02
const config = new pulumi.Config();
const milestones = config.getObject<number[]>("milestones") ?? [117, 121];
const driverVersions = config.getObject<string[]>("driverVersions") ?? ["535.230.02", "570.124.06"];

const images = milestones.flatMap((milestone) =>
  driverVersions.map((version) => {
    // Lower case letters, digits and dashes: a valid start of GCE names.
    const name = `cos${milestone}-nvidia${version.split(".")[0]}`;
    return new PreloadedCosImage(name, {
      sourceImageMilestone: milestone,
      gpuType: "nvidia-tesla-t4",
      steps: [{ installGpuDriver: { version } }, { disableAutoUpdate: {} }],
      imageFamily: `gpu-${name}`,
      imageLabels: {
        example: "matrix",
        milestone: String(milestone),
        driver: version.replace(/\./g, "_"),
      },
    });
  }),
);

export const imageNames = pulumi.all(images.map((image) => image.imageName));
