import { createHash } from "node:crypto";
import {
  ACCESS_TOKEN_ENV,
  createGcpClients,
  type GcpClientOptions,
  type GcpClients,
} from "./clients";

/**
 * One set of clients for the builds and reads that come close together in a process. A program
 * with several components (the matrix example) builds them at once in one provider process, and
 * every set of Compute Engine clients parses the API's protobuf descriptors when it is made: with
 * eight builds that was seconds of CPU, on the critical path of all of them. And Pulumi calls one
 * resource's `check`, then `create` (or `diff`, `read`, `update`), each of which used to make and
 * close a set of its own. Callers with the same endpoints and project now share one set, counted;
 * when the last one lets go, the set stays open for {@link IDLE_CLOSE_MS} for the next call, then
 * closes. A changed `CLOUDSDK_AUTH_ACCESS_TOKEN` gets a set of its own.
 */

/** How long a set nobody holds stays open for the next caller. */
export const IDLE_CLOSE_MS = 60_000;

interface Entry {
  clients: GcpClients;
  users: number;
  /** Closes the set once idle; unref'd, so an idle set never keeps the process alive. */
  idleTimer?: NodeJS.Timeout;
}

const pool = new Map<string, Entry>();

/** Clients for `options` (endpoints and project), shared with the other callers of the moment. */
export function sharedGcpClients(
  options: Pick<GcpClientOptions, "endpoints" | "projectId">,
): GcpClients {
  // The token from the environment is part of the key (as a digest): a set made before it changed
  // is not handed out after.
  const token = createHash("sha256")
    .update(process.env[ACCESS_TOKEN_ENV] ?? "")
    .digest("hex");
  const key = JSON.stringify([options.endpoints ?? {}, options.projectId ?? "", token]);
  let entry = pool.get(key);
  if (!entry) {
    entry = { clients: createGcpClients(options), users: 0 };
    pool.set(key, entry);
  }
  clearTimeout(entry.idleTimer);
  entry.idleTimer = undefined;
  entry.users++;
  const held = entry;
  let released = false;
  return {
    ...held.clients,
    close: () => {
      if (released) return Promise.resolve();
      released = true;
      if (--held.users === 0) {
        held.idleTimer = setTimeout(() => void closeEntry(key, held), IDLE_CLOSE_MS);
        held.idleTimer.unref();
      }
      return Promise.resolve();
    },
  };
}

/** Closes every set nobody holds now, at once (tests, and a process about to exit). */
export async function closeIdleGcpClients(): Promise<void> {
  await Promise.all(
    [...pool]
      .filter(([, entry]) => entry.users === 0)
      .map(([key, entry]) => closeEntry(key, entry)),
  );
}

async function closeEntry(key: string, entry: Entry): Promise<void> {
  clearTimeout(entry.idleTimer);
  if (pool.get(key) === entry) pool.delete(key);
  await entry.clients.close().catch(() => undefined);
}
