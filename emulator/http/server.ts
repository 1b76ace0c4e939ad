/**
 * The emulator's API server on loopback: routes each request, logs it, injects configured faults,
 * checks for a bearer token like Google does, and turns thrown `ApiError`s into Google error bodies.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { FaultInjector } from "../faults";
import type { RequestLog } from "../requestLog";
import { ApiError, unauthenticated } from "./errors";
import { sendJson } from "./io";
import type { Router } from "./router";

/** What the server needs. */
export interface ApiServerDeps {
  /** Routes. */
  router: Router;
  /** Where requests are logged. */
  requestLog: RequestLog;
  /** Injected errors. */
  faults: FaultInjector;
  /** Refuse requests without `Authorization: Bearer <token>` (401), as Google does. */
  requireAuth: boolean;
}

/** A started API server. */
export interface ApiServer {
  /** The port it listens on (127.0.0.1). */
  port: number;
  /** Stops accepting connections and closes open ones. */
  close(): Promise<void>;
}

/** Starts the API server on 127.0.0.1:`port` (0 = any free port). */
export async function startApiServer(deps: ApiServerDeps, port = 0): Promise<ApiServer> {
  const server: Server = createServer((req, res) => {
    const startedAt = performance.timeOrigin + performance.now();
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const httpMethod = req.method ?? "GET";
    const match = deps.router.match(httpMethod, url.pathname);
    const method = match?.apiMethod ?? "unknown";
    let injectedFault = false;
    res.once("finish", () =>
      deps.requestLog.record({
        method,
        httpMethod,
        path: url.pathname,
        status: res.statusCode,
        startedAt,
        durationMs: performance.timeOrigin + performance.now() - startedAt,
        injectedFault,
      }),
    );
    const fail = (error: ApiError): void => {
      if (res.headersSent) return void res.destroy();
      // Drain the body so the client's socket stays usable after an early error.
      req.resume();
      sendJson(res, error.httpStatus, error.toBody());
    };
    void (async () => {
      try {
        if (!match) {
          throw new ApiError(
            404,
            "notFound",
            `The emulator has no API method for ${httpMethod} ${url.pathname}`,
          );
        }
        const hasToken = /^Bearer\s+\S+/i.test(req.headers.authorization ?? "");
        if (deps.requireAuth && !hasToken && !isAnonymousAllowed(httpMethod, url, method)) {
          throw unauthenticated();
        }
        const fault = deps.faults.pick(method);
        if (fault) {
          injectedFault = true;
          throw fault;
        }
        await match.handler({ req, res, url, params: match.params, method });
      } catch (err) {
        if (err instanceof ApiError) return fail(err);
        fail(
          new ApiError(
            500,
            "backendError",
            `Internal emulator error: ${(err as Error).stack ?? String(err)}`,
          ),
        );
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Requests served without a bearer token. In Cloud Storage a resumable session URI is itself the
 * credential, so its chunk PUTs carry no token. The session-creating POST is exempt too because
 * `@google-cloud/storage` 8.x drops `useAuthWithCustomEndpoint` on its resumable path and so never
 * authenticates it against a custom endpoint (Google's own endpoint does get a token).
 */
function isAnonymousAllowed(httpMethod: string, url: URL, apiMethod: string): boolean {
  if (apiMethod !== "storage.objects.insert") return false;
  return httpMethod === "PUT" || url.searchParams.get("uploadType") === "resumable";
}
