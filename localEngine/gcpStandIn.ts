/**
 * A stand-in for the `gcp` resource plugin (`pulumi-resource-gcp`) for `npm start --engine
 * pulumi`: the real engine runs the example's `@pulumi/gcp` resources through it, because the real
 * plugin downloads itself and cannot be had here. The example stays an ordinary Pulumi program
 * (the same `index.ts` a user copies); only the plugin that serves its `gcp:` resources differs.
 * The engine finds this one first because it is on the PATH ("ambient" plugins win over the plugin
 * cache, and the CLI says so: `using pulumi-resource-gcp from $PATH`).
 *
 * It does what the local engine does with the same resources (`localResources.ts`):
 *
 * - `gcp.storage.Bucket` becomes a bucket in the emulator, auto-named as the gcp provider names it
 *   (the logical name plus 7 random hex digits, kept across updates); its delete deletes it;
 * - every other type is only recorded: its inputs become its state, with the name and self link
 *   Compute Engine would give templates and groups, so that the resources using them follow a
 *   replacement. Templates and images are replaced on any change (ForceNew in the gcp provider),
 *   the rest updated in place.
 *
 * Differences from the real plugin that the example could tell, and that stay: it reads the
 * stack's project and zone from `GOOGLE_PROJECT` and `GOOGLE_ZONE` (the variables the gcp provider
 * falls back on), which the launcher sets to the stack's `gcp:project` and `gcp:zone`, rather than
 * from the provider configuration (`@pulumi/pulumi/provider` does not hand that to a provider); it
 * has no schema and no functions (invokes); and a refresh returns the recorded state as it is.
 *
 * Run by the wrapper `npm start` writes (`pulumi-resource-gcp`), as `node gcpStandIn.js <engine>`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as provider from "@pulumi/pulumi/provider";
import { createGcpClients, type GcpClients } from "../components/google/clients";
import { diffInputs, KNOWN_AFTER_UPDATE } from "./changes";
import {
  bucket,
  computedOutputs,
  deleteResource,
  freshName,
  keptOutputs,
  withoutSecretMarkers,
} from "./localResources";

/** The type of the one resource this stand-in makes in the emulator. */
const BUCKET = "gcp:storage/bucket:Bucket";

/**
 * The output property that keeps a resource's inputs: the engine hands `diff` the old outputs only
 * (through `@pulumi/pulumi/provider`), and outputs hold more than the inputs (a name, a self link),
 * so the inputs ride along, as a dynamic resource's provider rides in `__provider`. Secrets in them
 * stay wrapped, so the engine stores them encrypted.
 */
const INPUTS_KEY = "__inputs";

/** How Pulumi's wire format spells a value not known yet (an output of a resource to be made). */
const WIRE_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** A resource's type token and logical name, from its URN (`urn:pulumi:<stack>::<project>::<type>::<name>`). */
export function parseUrn(urn: string): { type: string; name: string } {
  const parts = urn.split("::");
  if (parts.length < 4) throw new Error(`not a resource URN: ${urn}`);
  const qualifiedType = parts[2] ?? "";
  return {
    type: qualifiedType.split("$").pop() ?? qualifiedType,
    name: parts.slice(3).join("::"),
  };
}

/** `value` with the wire format's unknowns as the local engine shows them (so a diff sees them). */
function unknownsShown(value: unknown): unknown {
  if (value === WIRE_UNKNOWN) return KNOWN_AFTER_UPDATE;
  if (Array.isArray(value)) return value.map(unknownsShown);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, child]) => [key, unknownsShown(child)]),
    );
  }
  return value;
}

/** Plain inputs: secrets unwrapped (nothing here stores them), unknowns marked. */
function plain(value: unknown): Record<string, unknown> {
  return unknownsShown(withoutSecretMarkers(value ?? {})) as Record<string, unknown>;
}

/** The version of `@pulumi/gcp` the program uses: the plugin version its SDK asks the engine for. */
function gcpSdkVersion(): string {
  try {
    const manifest = require.resolve("@pulumi/gcp/package.json");
    return (JSON.parse(fs.readFileSync(manifest, "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}

/** The stand-in provider; `clients` talk to the emulator (its endpoints come from the environment). */
export function gcpStandInProvider(
  clients: GcpClients,
  env: NodeJS.ProcessEnv = process.env,
): provider.Provider {
  const place = { project: env.GOOGLE_PROJECT ?? "", zone: env.GOOGLE_ZONE ?? "" };
  // Nothing a resource provider writes to its standard output reaches the person watching.
  const log = (): void => {};
  return {
    version: gcpSdkVersion(),
    check(urn, olds: Record<string, unknown>, news: Record<string, unknown>) {
      const { type, name } = parseUrn(urn);
      if (type !== BUCKET || news.name !== undefined) return Promise.resolve({ inputs: news });
      // Auto-naming, as the gcp provider does it at check: kept from the last run, else fresh.
      const kept = typeof olds.name === "string" ? olds.name : freshName(`${name}-`);
      return Promise.resolve({ inputs: { ...news, name: kept } });
    },
    diff(_id, urn, olds: Record<string, unknown>, news: Record<string, unknown>) {
      const { type } = parseUrn(urn);
      const inputsBefore = (olds[INPUTS_KEY] as Record<string, unknown> | undefined) ?? olds;
      const change = diffInputs(type, plain(inputsBefore), plain(news));
      if (change.operation === "same") return Promise.resolve({ changes: false });
      return Promise.resolve({
        changes: true,
        ...(change.operation === "replace" ? { replaces: change.properties ?? [] } : {}),
      });
    },
    async create(urn, inputs: Record<string, unknown>) {
      const { type, name } = parseUrn(urn);
      const given = plain(inputs);
      if (type === BUCKET) {
        const made = await bucket(
          { type, name, custom: true, inputs: given },
          String(given.name),
          false,
          clients,
          log,
        );
        const { url, selfLink } = made.state;
        return { id: made.id, outs: { ...inputs, url, selfLink, [INPUTS_KEY]: inputs } };
      }
      const computed = computedOutputs(
        { type, name, custom: true, inputs: given },
        place,
        freshName,
      );
      const id = typeof computed.name === "string" ? computed.name : `${name}-not-emulated`;
      return { id, outs: { ...inputs, ...computed, [INPUTS_KEY]: inputs } };
    },
    update(id, urn, olds: Record<string, unknown>, news: Record<string, unknown>) {
      // Buckets keep what they were made with (so does the local engine); the rest is recorded.
      const kept = keptOutputs({ type: parseUrn(urn).type, name: "", id, state: olds });
      return Promise.resolve({ outs: { ...news, ...kept, [INPUTS_KEY]: news } });
    },
    async delete(id, urn, props: Record<string, unknown>) {
      const { type, name } = parseUrn(urn);
      await deleteResource({ type, name, id, state: props }, clients, log);
    },
  };
}

/** The plugin's entry point: serves the stand-in to the engine whose address is the last argument. */
export async function main(args: string[]): Promise<void> {
  const clients = createGcpClients({
    endpoints: {
      ...(process.env.PCI_COMPUTE_ENDPOINT ? { compute: process.env.PCI_COMPUTE_ENDPOINT } : {}),
      ...(process.env.PCI_STORAGE_ENDPOINT ? { storage: process.env.PCI_STORAGE_ENDPOINT } : {}),
    },
    ...(process.env.GOOGLE_PROJECT ? { projectId: process.env.GOOGLE_PROJECT } : {}),
  });
  await provider.main(gcpStandInProvider(clients), args);
}

/** The wrapper the engine starts: `pulumi-resource-gcp` in `dir`, running this file with Node. */
export function writeGcpStandInPlugin(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const wrapper = path.join(dir, "pulumi-resource-gcp");
  fs.writeFileSync(
    wrapper,
    [
      "#!/bin/sh",
      "# The local run's stand-in for the gcp resource plugin (localEngine/gcpStandIn.ts).",
      `exec node ${JSON.stringify(__filename)} "$@"`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  return wrapper;
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`pulumi-resource-gcp (stand-in): ${String(error)}\n`);
    process.exit(1);
  });
}
