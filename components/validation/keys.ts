import type { ApiEndpointsArgs, PreloadedCosImageArgs, RegistryCredentialArgs } from "../args";
import type { ArgsReader } from "./reader";
import { unknownKeyProblems } from "./suggest";

/**
 * The valid keys of the argument objects, for strict validation: an unknown key is an error, never
 * silently ignored. Each list is checked against its interface at compile time in both directions
 * (`satisfies` rejects a key the interface lacks; {@link EveryKeyListed} a key the list lacks), so it
 * cannot drift from `args.ts`.
 */

/** Every top-level argument of `PreloadedCosImage`, in the order of `args.ts`. */
export const ARG_KEYS = [
  "sourceImage",
  "sourceImageFamily",
  "sourceImageMilestone",
  "sourceImageProject",
  "buildContext",
  "extraFiles",
  "steps",
  "imageName",
  "imageNameSuffix",
  "imageProject",
  "imageFamily",
  "imageDescription",
  "imageLabels",
  "inheritSourceLabels",
  "imageLicenses",
  "deprecateOlderImages",
  "deprecatedImageTtlDays",
  "imageStorageLocations",
  "guestOsFeatures",
  "diskSizeGb",
  "project",
  "zone",
  "machineType",
  "diskType",
  "network",
  "subnetwork",
  "serviceAccountEmail",
  "serviceAccountScopes",
  "networkTags",
  "externalIp",
  "gpuType",
  "gpuCount",
  "vmProvisioningModel",
  "preemptionRetries",
  "vmLabels",
  "bucket",
  "bucketPrefix",
  "buildTimeoutMinutes",
  "apiEndpoints",
] as const satisfies readonly (keyof PreloadedCosImageArgs)[];

/** Keys of `apiEndpoints`. */
export const API_ENDPOINT_KEYS = [
  "compute",
  "storage",
] as const satisfies readonly (keyof ApiEndpointsArgs)[];

/** Keys of a `preloadImages.credentials[]` entry. */
export const CREDENTIAL_KEYS = [
  "registry",
  "username",
  "password",
] as const satisfies readonly (keyof RegistryCredentialArgs)[];

/**
 * `true` when `List` names every key of `T`; otherwise the missing keys, so that assigning `true`
 * fails to compile with their names in the message.
 */
export type EveryKeyListed<T, List extends readonly PropertyKey[]> = [
  Exclude<keyof T, List[number]>,
] extends [never]
  ? true
  : Exclude<keyof T, List[number]>;

// Compile-time checks; the values are never used.
export const ARG_KEYS_COMPLETE: EveryKeyListed<PreloadedCosImageArgs, typeof ARG_KEYS> = true;
export const API_ENDPOINT_KEYS_COMPLETE: EveryKeyListed<
  ApiEndpointsArgs,
  typeof API_ENDPOINT_KEYS
> = true;
export const CREDENTIAL_KEYS_COMPLETE: EveryKeyListed<
  RegistryCredentialArgs,
  typeof CREDENTIAL_KEYS
> = true;

/** Reports every top-level key that is not an argument, with the nearest argument. */
export function checkArgKeys(r: ArgsReader, args: object): void {
  for (const problem of unknownKeyProblems(
    "",
    args,
    ARG_KEYS,
    "is not an argument of PreloadedCosImage",
    "arguments",
  )) {
    r.report(problem);
  }
}
