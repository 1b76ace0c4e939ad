import type { BuildStepArgs } from "../../args";
import type { ContextView } from "../buildContext";
import type { ArgsUnderValidation } from "../context";
import type { EveryKeyListed } from "../keys";
import type { ArgsReader } from "../reader";
import { nearestKey } from "../suggest";
import { checkDiskSizeForLayout, checkOemSize } from "./diskLayoutSteps";
import { checkInstallGpuDriver } from "./installGpuDriver";
import { type StepFields, checkNoOptions } from "./options";
import { checkPreloadImages } from "./preloadImages";
import { checkRunScript } from "./runScript";

/** The step kinds, in the order they are documented. */
export const STEP_KINDS = [
  "runScript",
  "installGpuDriver",
  "preloadImages",
  "disableAutoUpdate",
  "extendOemPartition",
  "sealOemPartition",
  "reclaimRootPartition",
] as const satisfies ReadonlyArray<keyof BuildStepArgs>;

/** Compile-time check that {@link STEP_KINDS} lists every kind of `BuildStepArgs`. */
export const STEP_KINDS_COMPLETE: EveryKeyListed<BuildStepArgs, typeof STEP_KINDS> = true;

/** Step kinds that take no options: each is written `{}`. */
const OPTION_FREE_KINDS: ReadonlySet<string> = new Set([
  "disableAutoUpdate",
  "sealOemPartition",
  "reclaimRootPartition",
]);

/** Kinds that may appear in more than one step; a second step of any other kind is a mistake. */
const REPEATABLE_KINDS: ReadonlySet<string> = new Set(["runScript", "preloadImages"]);

/** Step rules; also checks the disk-size arithmetic the layout steps imply. */
export function checkSteps(
  r: ArgsReader,
  args: ArgsUnderValidation,
  context: ContextView | undefined,
): void {
  if (!r.isSet(args.steps) || r.isPending(args.steps)) return;
  if (!Array.isArray(args.steps)) {
    r.report({
      field: "steps",
      message: "must be a list of steps",
      fix: 'give an array such as [{ runScript: { script: "setup.sh" } }]',
    });
    return;
  }
  const kindCounts = new Map<string, number>();
  let oemSizeBytes: number | undefined;
  (args.steps as unknown[]).forEach((step, index) => {
    const field = `steps[${index}]`;
    const kind = stepKind(r, field, step);
    if (kind === undefined) return;
    kindCounts.set(kind, (kindCounts.get(kind) ?? 0) + 1);
    const body = stepOptions(r, `${field}.${kind}`, kind, (step as StepFields)[kind]);
    if (body === undefined) return;
    const size = checkStepOptions(r, `${field}.${kind}`, kind, body, args, context);
    if (size !== undefined) oemSizeBytes = size;
  });
  checkRepeatedKinds(r, kindCounts);
  checkDiskSizeForLayout(r, args, kindCounts, oemSizeBytes);
}

/** The one known kind a step sets, or undefined (reported) when it does not set exactly one. */
function stepKind(r: ArgsReader, field: string, step: unknown): string | undefined {
  if (typeof step !== "object" || step === null || Array.isArray(step)) {
    r.report({
      field,
      value: step,
      message: "is not a step object",
      fix: `give an object with one of ${STEP_KINDS.join(", ")}`,
    });
    return undefined;
  }
  const kinds = Object.keys(step).filter((key) => (step as StepFields)[key] !== undefined);
  const unknownKinds = kinds.filter((key) => !(STEP_KINDS as readonly string[]).includes(key));
  if (unknownKinds.length > 0) {
    r.report({
      field,
      value: unknownKinds,
      message: "has unknown step kinds",
      fix: `${unknownKindHints(unknownKinds)}use one of ${STEP_KINDS.join(", ")}`,
    });
    return undefined;
  }
  if (kinds.length !== 1) {
    r.report({
      field,
      message:
        kinds.length === 0
          ? "sets no step kind"
          : `sets ${kinds.length} step kinds (${kinds.join(", ")})`,
      fix: "set exactly one kind per step; put each action in a step of its own",
    });
    return undefined;
  }
  return kinds[0];
}

/** "runScrpt: did you mean runScript? " for each unknown kind close to a real one. */
function unknownKindHints(kinds: readonly string[]): string {
  return kinds
    .map((kind) => [kind, nearestKey(kind, STEP_KINDS)] as const)
    .filter(([, nearest]) => nearest !== undefined)
    .map(([kind, nearest]) => `${kind}: did you mean ${nearest}? `)
    .join("");
}

/** The step's options object, or undefined (reported) when the step's value is not an object. */
function stepOptions(
  r: ArgsReader,
  field: string,
  kind: string,
  body: unknown,
): StepFields | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    r.report({
      field,
      value: body,
      message: "must be an object",
      fix: OPTION_FREE_KINDS.has(kind) ? "write it as {}" : "give the step's options as an object",
    });
    return undefined;
  }
  return body as StepFields;
}

/** One step kind's rules; returns the valid OEM size an `extendOemPartition` step asks for. */
function checkStepOptions(
  r: ArgsReader,
  field: string,
  kind: string,
  fields: StepFields,
  args: ArgsUnderValidation,
  context: ContextView | undefined,
): number | undefined {
  switch (kind) {
    case "runScript":
      checkRunScript(r, field, fields, context);
      return undefined;
    case "installGpuDriver":
      checkInstallGpuDriver(r, field, fields, context, args);
      return undefined;
    case "preloadImages":
      checkPreloadImages(r, field, fields);
      return undefined;
    case "extendOemPartition":
      return checkOemSize(r, field, fields);
    default:
      checkNoOptions(r, field, fields);
      return undefined;
  }
}

function checkRepeatedKinds(r: ArgsReader, kindCounts: ReadonlyMap<string, number>): void {
  for (const [kind, count] of kindCounts) {
    if (count > 1 && !REPEATABLE_KINDS.has(kind)) {
      r.report({
        field: "steps",
        message: `has ${count} ${kind} steps`,
        fix: `keep a single ${kind} step`,
      });
    }
  }
}
