/**
 * The emulator plus the project's real Google clients (components/google/clients.ts) pointed at
 * it, and optionally a scratch bucket: the set-up of every test, benchmark and end-to-end run
 * against the local cloud.
 */
import { createGcpClients, type GcpClients } from "../../components/google/clients";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../emulator";

/** Both APIs on one emulator endpoint. */
export interface EmulatorEndpoints {
  compute: string;
  storage: string;
}

/** A running emulator and clients. */
export interface EmulatorCloud {
  /** The emulator. */
  emulator: Emulator;
  /** Real clients pointed at it. */
  clients: GcpClients;
  /** The endpoints the clients use (the build's `apiEndpoints`). */
  endpoints: EmulatorEndpoints;
  /** Closes the clients, then stops the emulator. */
  close(): Promise<void>;
}

/** Options of {@link startEmulatorCloud}. */
export interface EmulatorCloudOptions {
  /** The clients' project. */
  project: string;
  /** A bucket to create before returning. */
  bucket?: string;
  /** Options of the emulator started with `startEmulator`; ignored with `start`. */
  emulator?: EmulatorOptions;
  /** Starts the emulator some other way (QEMU machines). */
  start?: () => Promise<Emulator>;
  /** The environment the clients read (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/** Starts an emulator, clients pointed at it, and the bucket. */
export async function startEmulatorCloud(options: EmulatorCloudOptions): Promise<EmulatorCloud> {
  const emulator = await (options.start ?? (() => startEmulator(options.emulator)))();
  const endpoints = { compute: emulator.endpoint, storage: emulator.endpoint };
  const clients = createGcpClients({
    projectId: options.project,
    endpoints,
    ...(options.env ? { env: options.env } : {}),
  });
  if (options.bucket !== undefined) await clients.storage.createBucket(options.bucket);
  return {
    emulator,
    clients,
    endpoints,
    async close() {
      await clients.close();
      await emulator.close();
    },
  };
}
