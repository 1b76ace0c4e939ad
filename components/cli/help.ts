import type { CommandLineSpec, FlagSpec } from "./args";

/** The subcommands' flags, usage lines, help texts and examples: what `--help` prints. */

/** Name of the command, as installed by package.json's `bin`. */
export const COMMAND = "preloaded-cos-image";

/** A subcommand's documentation and flags. */
export interface SubcommandSpec extends CommandLineSpec {
  name: "build" | "plan" | "sweep";
  summary: string;
  example: string;
}

const JSON_FLAG: FlagSpec = {
  name: "json",
  description: "write progress to stderr as one JSON object a line (for CI log parsers)",
};
const CONFIG_FLAGS: FlagSpec[] = [
  {
    name: "config",
    value: "<file>",
    description:
      "YAML or JSON file of the component's arguments, plus an optional name; relative paths start at its directory",
  },
  {
    name: "set",
    value: "<path>=<value>",
    repeatable: true,
    description:
      "override one value (dotted path, indices allowed: steps[0].runScript.script=setup.sh); the value is read as a YAML scalar",
  },
  JSON_FLAG,
];

/** Every subcommand. */
export const SUBCOMMANDS: readonly SubcommandSpec[] = [
  {
    name: "build",
    summary: "build the image, delete every temporary, print the image as JSON on stdout",
    usage: `usage: ${COMMAND} build --config <file> [--set <path>=<value>]... [--json]`,
    flags: CONFIG_FLAGS,
    example: `${COMMAND} build --config examples/ci/image.yaml --set imageLabels.commit=abc123`,
  },
  {
    name: "plan",
    summary:
      "validate, resolve the source image, compute the image name and content hash, and list what a build would create; changes nothing",
    usage: `usage: ${COMMAND} plan --config <file> [--set <path>=<value>]... [--json]`,
    flags: CONFIG_FLAGS,
    example: `${COMMAND} plan --config examples/ci/image.yaml`,
  },
  {
    name: "sweep",
    summary:
      "delete the temporaries (VMs, disks, images, objects) that builds left behind, found by their labels",
    usage: `usage: ${COMMAND} sweep --project <id> [--zone <zone>] [--bucket <name> [--prefix <prefix>]] [--build <id>] [--older-than <age>] [--dry-run] [--json]`,
    flags: [
      { name: "project", value: "<id>", description: "project of the builds (required)" },
      { name: "zone", value: "<zone>", description: "only this zone (default: every zone)" },
      {
        name: "bucket",
        value: "<name>",
        description: "also delete the builds' objects in this bucket",
      },
      {
        name: "prefix",
        value: "<prefix>",
        description: "only objects under this prefix (default: the whole bucket)",
      },
      { name: "build", value: "<id>", description: "only the temporaries of this build id" },
      {
        name: "older-than",
        value: "<age>",
        description:
          "only temporaries created longer ago than this: 90s, 30m, 2h, 1d (default 2h, so running builds are spared)",
      },
      { name: "dry-run", description: "list what would be deleted, delete nothing" },
      JSON_FLAG,
    ],
    example: `${COMMAND} sweep --project my-project --bucket my-scratch --older-than 6h --dry-run`,
  },
];

/** The command's own usage line. */
export const MAIN_USAGE = `usage: ${COMMAND} <build|plan|sweep> [flags]   (${COMMAND} <subcommand> --help for its flags)`;

/** `preloaded-cos-image --help`. */
export function mainHelp(): string {
  const lines = [
    `${COMMAND}: builds Container-Optimized OS images on Compute Engine, without Pulumi.`,
    "",
    MAIN_USAGE,
    "",
    "Subcommands:",
    ...SUBCOMMANDS.map((s) => `  ${s.name.padEnd(6)} ${s.summary}`),
    "",
    "Exit codes: 0 done, 1 the build failed, 2 invalid command line or configuration (nothing created), 130 cancelled.",
    "Endpoints: the configuration's apiEndpoints, or PCI_COMPUTE_ENDPOINT / PCI_STORAGE_ENDPOINT.",
    "",
    "Example:",
    `  ${SUBCOMMANDS[0].example}`,
  ];
  return `${lines.join("\n")}\n`;
}

/** `preloaded-cos-image <subcommand> --help`. */
export function subcommandHelp(spec: SubcommandSpec): string {
  const flags = spec.flags.map((f) => {
    const left = `--${f.name}${f.value ? ` ${f.value}` : ""}`;
    return `  ${left.padEnd(24)} ${f.description}`;
  });
  const lines = [
    `${COMMAND} ${spec.name}: ${spec.summary}.`,
    "",
    spec.usage,
    "",
    "Flags:",
    ...flags,
    `  ${"--help".padEnd(24)} print this help`,
    "",
    "Example:",
    `  ${spec.example}`,
  ];
  return `${lines.join("\n")}\n`;
}
