/**
 * A small path router for the emulator's REST surface. Routes are matched on raw (still
 * percent-encoded) path segments so that an encoded `/` inside a Cloud Storage object name stays
 * inside its segment; parameters are decoded after matching.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** What a handler gets for one request. */
export interface RequestContext {
  /** The incoming request; its body has not been read yet. */
  req: IncomingMessage;
  /** The response to write. */
  res: ServerResponse;
  /** The full request URL (host is the emulator's). */
  url: URL;
  /** Path parameters by name, percent-decoded. */
  params: Record<string, string>;
  /** The API method id of the matched route, e.g. `compute.images.insert`. */
  method: string;
}

/** Handles one request; throws an `ApiError` for error responses. */
export type Handler = (ctx: RequestContext) => void | Promise<void>;

interface Route {
  httpMethod: string;
  segments: string[];
  apiMethod: string;
  handler: Handler;
}

/** The route that matched a request, with its decoded parameters. */
export interface RouteMatch {
  /** API method id, e.g. `storage.objects.get`. */
  apiMethod: string;
  /** Decoded path parameters. */
  params: Record<string, string>;
  /** The handler to run. */
  handler: Handler;
}

/** Routes by HTTP method and `/`-separated pattern where `:name` segments capture one segment. */
export class Router {
  private readonly routes: Route[] = [];

  /**
   * Adds a route.
   * @param httpMethod `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
   * @param pattern e.g. `/compute/v1/projects/:project/global/images/:image`.
   * @param apiMethod The API method id logged and used by fault rules, e.g. `compute.images.get`.
   */
  add(httpMethod: string, pattern: string, apiMethod: string, handler: Handler): void {
    this.routes.push({ httpMethod, segments: splitPath(pattern), apiMethod, handler });
  }

  /** The first route matching the method and raw path, or undefined. */
  match(httpMethod: string, rawPath: string): RouteMatch | undefined {
    const segments = splitPath(rawPath);
    for (const route of this.routes) {
      if (route.httpMethod !== httpMethod || route.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      const matched = route.segments.every((pattern, i) => {
        const actual = segments[i];
        if (pattern.startsWith(":")) {
          params[pattern.slice(1)] = safeDecode(actual);
          return actual.length > 0;
        }
        return pattern === actual;
      });
      if (matched) return { apiMethod: route.apiMethod, params, handler: route.handler };
    }
    return undefined;
  }

  /** True when some route has this path with another HTTP method (for a 405-style answer). */
  hasPath(rawPath: string): boolean {
    return this.routes.some((r) => this.match(r.httpMethod, rawPath) !== undefined);
  }
}

function splitPath(path: string): string[] {
  return path.replace(/^\/+/, "").replace(/\/+$/, "").split("/");
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
