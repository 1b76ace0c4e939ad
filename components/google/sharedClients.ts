import { createGcpClients, type GcpClientOptions, type GcpClients } from "./clients";

/**
 * One set of clients for the builds that overlap in a process. A program with several components
 * (the matrix example) builds them at once in one provider process, and every set of Compute Engine
 * clients parses the API's protobuf descriptors when it is made: with eight builds that was seconds
 * of CPU, on the critical path of all of them. Builds with the same endpoints and project now share
 * one set, counted: the last build to let go closes it, and the next build makes a fresh one (so
 * credentials from the environment are read again then).
 */

interface Entry {
  clients: GcpClients;
  users: number;
}

const pool = new Map<string, Entry>();

/** Clients for `options` (endpoints and project), shared with the builds that hold them now. */
export function sharedGcpClients(
  options: Pick<GcpClientOptions, "endpoints" | "projectId">,
): GcpClients {
  const key = JSON.stringify([options.endpoints ?? {}, options.projectId ?? ""]);
  let entry = pool.get(key);
  if (!entry) {
    entry = { clients: createGcpClients(options), users: 0 };
    pool.set(key, entry);
  }
  entry.users++;
  const held = entry;
  let released = false;
  return {
    ...held.clients,
    close: async () => {
      if (released) return;
      released = true;
      if (--held.users > 0) return;
      if (pool.get(key) === held) pool.delete(key);
      await held.clients.close();
    },
  };
}
