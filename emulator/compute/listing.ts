/** `*.list` semantics shared by images, disks and instances: filter, order, pagination. */
import { invalid } from "../http/errors";
import { compileFilter } from "./filter";

/** GCE's default and maximum page size. */
export const MAX_RESULTS = 500;

/** One page of a list response. */
export interface ListPage<T> {
  /** The resources of this page. */
  items: T[];
  /** Token for the next page, absent on the last page. */
  nextPageToken?: string;
}

/**
 * Filters, orders and pages `resources` (API JSON objects) by the list request's query
 * parameters `filter`, `orderBy` (`name` or `creationTimestamp`, optional `desc`), `maxResults`
 * (1-500, default 500) and `pageToken`.
 */
export function listPage<T extends Record<string, unknown>>(
  resources: T[],
  query: URLSearchParams,
): ListPage<T> {
  const predicate = compileFilter(query.get("filter"));
  const matching = resources.filter((r) => predicate(r));
  const [orderField, direction] = (query.get("orderBy") ?? "name").trim().split(/\s+/);
  if (orderField !== "name" && orderField !== "creationTimestamp") {
    throw invalid(
      `Invalid value for field 'orderBy': '${query.get("orderBy")}'. Unsupported ordering.`,
    );
  }
  const sign = direction === "desc" ? -1 : 1;
  matching.sort((a, b) => sign * String(a[orderField]).localeCompare(String(b[orderField])));

  const maxResults = query.has("maxResults") ? Number(query.get("maxResults")) : MAX_RESULTS;
  if (!Number.isInteger(maxResults) || maxResults < 0 || maxResults > MAX_RESULTS) {
    throw invalid(
      `Invalid value for field 'maxResults': '${query.get("maxResults")}'. Must be in [0, 500].`,
    );
  }
  const pageSize = maxResults === 0 ? MAX_RESULTS : maxResults;
  const start = decodePageToken(query.get("pageToken"));
  const items = matching.slice(start, start + pageSize);
  const next = start + pageSize;
  return next < matching.length ? { items, nextPageToken: encodePageToken(next) } : { items };
}

function encodePageToken(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString("base64url");
}

function decodePageToken(token: string | null): number {
  if (!token) return 0;
  const m = /^offset:(\d+)$/.exec(Buffer.from(token, "base64url").toString("utf8"));
  if (!m) throw invalid(`Invalid value for field 'pageToken': '${token}'.`);
  return Number(m[1]);
}
