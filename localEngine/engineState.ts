/**
 * The local engine's state, as Pulumi keeps a stack's: what each resource was created with and what
 * it became, so that the next run can diff against it (nothing changed: nothing built; a script
 * changed: the image replaced). Kept as one JSON file in the run's data directory, readable by the
 * owner only: like a Pulumi checkpoint, it may hold inputs of resources that are not emulated.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";

/** One resource as the state remembers it. */
export interface StoredResource {
  /** Type token. */
  type: string;
  /** Logical name. */
  name: string;
  /** Physical id. */
  id: string;
  /**
   * Inputs it was last created or updated with (resources that are not dynamic, whose diff the
   * engine makes itself). Dynamic resources diff against their outputs, as Pulumi's dynamic
   * provider host does, and keep none here (their inputs hold the build's secrets).
   */
  inputs?: Record<string, unknown>;
  /** Output properties. */
  state: Record<string, unknown>;
  /**
   * Digest of each local file that fed an image build (`buildContext/<path>`, `extraFiles.<dest>`),
   * so that a replacement can name the file that changed; only image builds have one.
   */
  files?: Record<string, string>;
}

/** The whole state of the local stack. */
export interface EngineState {
  /** The resources, in the order the last run registered them. */
  resources: StoredResource[];
  /**
   * Resources replaced (create-before-delete) whose old copy was not deleted yet, because the run
   * that replaced them failed before the end: the next successful run deletes them.
   */
  pendingDeletes: StoredResource[];
}

/** The state file's name in a data directory. */
export const ENGINE_STATE_FILE = "local-engine-state.json";

/** The key of a resource in the state (Pulumi's URN, without project and stack). */
export function resourceKey(resource: { type: string; name: string }): string {
  return `${resource.type}::${resource.name}`;
}

/** An empty state: a stack that was never deployed. */
export function emptyState(): EngineState {
  return { resources: [], pendingDeletes: [] };
}

/** Reads the state file; a missing file is an empty state, an unreadable one an error naming it. */
export async function loadState(file: string): Promise<EngineState> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return emptyState();
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<EngineState>;
    return { resources: parsed.resources ?? [], pendingDeletes: parsed.pendingDeletes ?? [] };
  } catch (error) {
    throw new Error(
      `the local engine's state ${file} is not valid JSON (${String(error)}); delete it to start over`,
      { cause: error },
    );
  }
}

/** Writes the state file atomically (write, then rename), owner-only. */
export async function saveState(file: string, state: EngineState): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await fs.rename(temporary, file);
}
