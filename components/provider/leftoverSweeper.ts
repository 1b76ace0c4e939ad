import * as pulumi from "@pulumi/pulumi";
import { IMAGE_BUILD_MODULE } from "./imageBuild";
import { providerLoadedByName } from "./serializedProvider";

/**
 * The component's record of where its builds run. It is created before the build resource (which
 * depends on it) and deleted after it, so that `pulumi destroy`, or removing the component, sweeps
 * every temporary its builds left, in every zone and project they used: even those of a build killed
 * during its first create, which leaves no build resource in state.
 */

/** Where builds of the component run, as the sweeper remembers them. */
export interface LeftoverPlace {
  project: string;
  zone: string;
  imageProject: string;
  bucket: string;
  /** Object prefix of builds, ending with `/`. */
  prefix: string;
}

/** Inputs of the sweeper, resolved. */
export interface LeftoverSweeperInputs {
  /** The component's owner id: the `pci-owner` label of its temporaries. */
  ownerId: string;
  /** The component's name (progress lines). */
  namePrefix: string;
  project: string;
  zone: string;
  imageProject?: string;
  bucket: string;
  bucketPrefix?: string;
  endpoints: { compute?: string; storage?: string };
}

/** The sweeper's state: its inputs plus every place recorded so far. */
export interface LeftoverSweeperOutputs extends LeftoverSweeperInputs {
  places: LeftoverPlace[];
}

/** Type of the sweeper resource: `pulumi-nodejs:dynamic/preloaded-cos-image:LeftoverSweeper`. */
export const LEFTOVER_SWEEPER_TYPE = "LeftoverSweeper";

/** See the module's comment. */
export class LeftoverSweeper extends pulumi.dynamic.Resource {
  constructor(
    name: string,
    inputs: { [K in keyof LeftoverSweeperInputs]: pulumi.Input<LeftoverSweeperInputs[K]> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      providerLoadedByName("leftovers"),
      name,
      { ...inputs, places: undefined },
      opts,
      IMAGE_BUILD_MODULE,
      LEFTOVER_SWEEPER_TYPE,
    );
  }
}
