/**
 * Builds the Google Cloud clients the build pipeline uses: Compute Engine (images, disks,
 * instances, zone and global operations) and Cloud Storage, pointed at Google or at another
 * endpoint such as the local emulator.
 *
 * Authentication, in order:
 * 1. a loopback endpoint (`http://127.0.0.1:PORT`, `localhost`, `[::1]`) always gets a fixed
 *    bearer token (`CLOUDSDK_AUTH_ACCESS_TOKEN` when set, else {@link LOOPBACK_TOKEN}), so that a
 *    client talking to the emulator can never fall back to Application Default Credentials and
 *    contact Google's metadata or token servers;
 * 2. otherwise `CLOUDSDK_AUTH_ACCESS_TOKEN`, when set (the same variable gcloud honours);
 * 3. otherwise Application Default Credentials.
 *
 * The client libraries are `require`d inside {@link createGcpClients}, not at module load: the
 * dynamic provider's methods are serialized by Pulumi, which captures every module-level value a
 * method closes over (an SDK client would drag its whole module graph into the state), and a module
 * that only needs the types stays cheap to load.
 */
import { dirname } from "node:path";
import type {
  DisksClient,
  GlobalOperationsClient,
  ImagesClient,
  InstancesClient,
  ZoneOperationsClient,
} from "@google-cloud/compute";
import type { Storage } from "@google-cloud/storage";

/** Environment variable holding an OAuth access token (gcloud's name for it). */
export const ACCESS_TOKEN_ENV = "CLOUDSDK_AUTH_ACCESS_TOKEN";

/** The token sent to loopback endpoints when `CLOUDSDK_AUTH_ACCESS_TOKEN` is not set. */
export const LOOPBACK_TOKEN = "emulator-token";

/** Environment variables that name endpoints, read by {@link endpointsFromEnv}. */
export const ENDPOINT_ENV = {
  /** Compute Engine API endpoint, e.g. `http://127.0.0.1:8089`. */
  compute: "PCI_COMPUTE_ENDPOINT",
  /** Cloud Storage JSON API endpoint, e.g. `http://127.0.0.1:8089`. */
  storage: "PCI_STORAGE_ENDPOINT",
} as const;

/** Where the APIs are. An absent endpoint means Google's production endpoint. */
export interface GcpEndpoints {
  /**
   * Compute Engine base URL: scheme, host and optional port, e.g. `http://127.0.0.1:8089` or
   * `https://compute.googleapis.com`. A path is ignored (the client adds `/compute/v1/...`).
   */
  compute?: string;
  /** Cloud Storage base URL, e.g. `http://127.0.0.1:8089` (the client adds `/storage/v1/...`). */
  storage?: string;
}

/** Options of {@link createGcpClients}. */
export interface GcpClientOptions {
  /** Project id given to the Storage client (used for bucket creation and listing). Optional. */
  projectId?: string;
  /** API endpoints; default Google's. */
  endpoints?: GcpEndpoints;
  /** Environment to read `CLOUDSDK_AUTH_ACCESS_TOKEN` from. Default `process.env`. */
  env?: Record<string, string | undefined>;
}

/** How a client authenticates. */
export type GcpAuthMode =
  /** Fixed token for a loopback endpoint. */
  | "loopback-token"
  /** The token in `CLOUDSDK_AUTH_ACCESS_TOKEN`. */
  | "access-token"
  /** Application Default Credentials. */
  | "application-default";

/** The clients, ready to use. */
export interface GcpClients {
  /** `compute.images.*`. */
  images: ImagesClient;
  /** `compute.disks.*`. */
  disks: DisksClient;
  /** `compute.instances.*`. */
  instances: InstancesClient;
  /** `compute.zoneOperations.*`. */
  zoneOperations: ZoneOperationsClient;
  /** `compute.globalOperations.*`. */
  globalOperations: GlobalOperationsClient;
  /** Cloud Storage. */
  storage: Storage;
  /** How the Compute Engine clients and the Storage client authenticate. */
  auth: { compute: GcpAuthMode; storage: GcpAuthMode };
  /** Closes the Compute Engine clients (Storage holds no long-lived resources). */
  close(): Promise<void>;
}

/** Reads endpoints from `PCI_COMPUTE_ENDPOINT` / `PCI_STORAGE_ENDPOINT` (unset or empty = Google's). */
export function endpointsFromEnv(
  env: Record<string, string | undefined> = process.env,
): GcpEndpoints {
  const compute = env[ENDPOINT_ENV.compute]?.trim();
  const storage = env[ENDPOINT_ENV.storage]?.trim();
  return { ...(compute ? { compute } : {}), ...(storage ? { storage } : {}) };
}

/** True for URLs whose host is a loopback address (`127.0.0.0/8`, `localhost`, `[::1]`). */
export function isLoopbackEndpoint(endpoint: string): boolean {
  const host = parseEndpoint(endpoint).hostname;
  return (
    host === "localhost" || host === "[::1]" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host)
  );
}

/** Builds the Compute Engine and Cloud Storage clients for the given endpoints. */
export function createGcpClients(options: GcpClientOptions = {}): GcpClients {
  const env = options.env ?? process.env;
  const endpoints = options.endpoints ?? {};
  // Lazily loaded: see the module comment.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const compute = require("@google-cloud/compute") as typeof import("@google-cloud/compute");
  const storageLib = require("@google-cloud/storage") as typeof import("@google-cloud/storage");
  /* eslint-enable @typescript-eslint/no-require-imports */

  const computeAuth = authFor(endpoints.compute, env);
  const computeOptions = {
    ...computeEndpointOptions(endpoints.compute),
    ...(computeAuth.token !== undefined
      ? { authClient: tokenClient(computeAuth.token, gaxAuthLibraryPath()) }
      : {}),
  };
  const storageAuth = authFor(endpoints.storage, env);
  const storage = new storageLib.Storage({
    ...(options.projectId ? { projectId: options.projectId } : {}),
    ...(endpoints.storage
      ? { apiEndpoint: storageEndpoint(endpoints.storage), useAuthWithCustomEndpoint: true }
      : {}),
    ...(storageAuth.token !== undefined
      ? { authClient: tokenClient(storageAuth.token, authLibraryPathFrom("@google-cloud/storage")) }
      : {}),
  });

  const clients = {
    images: new compute.ImagesClient(computeOptions),
    disks: new compute.DisksClient(computeOptions),
    instances: new compute.InstancesClient(computeOptions),
    zoneOperations: new compute.ZoneOperationsClient(computeOptions),
    globalOperations: new compute.GlobalOperationsClient(computeOptions),
  };
  return {
    ...clients,
    storage,
    auth: { compute: computeAuth.mode, storage: storageAuth.mode },
    close: async () => {
      await Promise.all(Object.values(clients).map((c) => c.close()));
    },
  };
}

function authFor(
  endpoint: string | undefined,
  env: Record<string, string | undefined>,
): { mode: GcpAuthMode; token?: string } {
  const token = env[ACCESS_TOKEN_ENV]?.trim() || undefined;
  if (endpoint !== undefined && isLoopbackEndpoint(endpoint))
    return { mode: "loopback-token", token: token ?? LOOPBACK_TOKEN };
  if (token !== undefined) return { mode: "access-token", token };
  return { mode: "application-default" };
}

/** Compute client options for an endpoint: REST transport to its host, port and scheme. */
function computeEndpointOptions(endpoint: string | undefined): Record<string, unknown> {
  if (endpoint === undefined) return {};
  const url = parseEndpoint(endpoint);
  const protocol = url.protocol.replace(/:$/, "");
  return {
    // The client ignores a port inside apiEndpoint, so host and port go separately.
    apiEndpoint: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port ? Number(url.port) : protocol === "http" ? 80 : 443,
    protocol,
    fallback: true,
  };
}

/** Storage wants scheme://host[:port] without a path. */
function storageEndpoint(endpoint: string): string {
  const url = parseEndpoint(endpoint);
  return `${url.protocol}//${url.host}`;
}

function parseEndpoint(endpoint: string): URL {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error(
      `Invalid API endpoint '${endpoint}': expected a URL such as http://127.0.0.1:8089`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`Invalid API endpoint '${endpoint}': the scheme must be http or https`);
  }
  return url;
}

/**
 * An OAuth2 client that always sends `token`. It must come from the google-auth-library copy the
 * calling library uses: google-gax calls `auth.fetch`, which a client from another major version
 * may lack ("auth.fetch is not a function").
 */
function tokenClient(
  token: string,
  authLibraryPath: string,
): import("google-auth-library").OAuth2Client {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { OAuth2Client } = require(authLibraryPath) as typeof import("google-auth-library");
  const client = new OAuth2Client();
  // No expiry: the client never tries to refresh (there is nothing to refresh it with).
  client.setCredentials({ access_token: token });
  return client;
}

/** google-auth-library as resolved from google-gax, as resolved from @google-cloud/compute. */
function gaxAuthLibraryPath(): string {
  const gax = require.resolve("google-gax", {
    paths: [dirname(require.resolve("@google-cloud/compute"))],
  });
  return require.resolve("google-auth-library", { paths: [dirname(gax)] });
}

/** google-auth-library as resolved from `packageName`. */
function authLibraryPathFrom(packageName: string): string {
  return require.resolve("google-auth-library", { paths: [dirname(require.resolve(packageName))] });
}
