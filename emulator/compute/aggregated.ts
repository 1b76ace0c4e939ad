/**
 * `instances.aggregatedList` and `disks.aggregatedList`: every zone of a project in one answer, as
 * GCE shapes it (`items` keyed by `zones/<zone>`, each scope holding its `instances` / `disks`).
 * Filter, order and pages apply across zones, as GCE's do. Unlike GCE, zones without resources are
 * left out instead of answering a `NO_RESULTS_ON_PAGE` warning scope (the emulator has no zone list).
 */
import { sendJson } from "../http/io";
import type { Router } from "../http/router";
import type { ComputeDeps } from "./deps";
import { listPage } from "./listing";

const BASE = "/compute/v1/projects/:project/aggregated";

/** Registers the aggregated list routes. */
export function registerAggregatedRoutes(router: Router, deps: ComputeDeps): void {
  router.add("GET", `${BASE}/instances`, "compute.instances.aggregatedList", (ctx) => {
    const { project } = ctx.params;
    const items = [...deps.state.instances.values()]
      .filter((i) => i.record.project === project)
      .map((i) => ({ zone: i.record.zone, json: i.record.toJSON() }));
    sendJson(
      ctx.res,
      200,
      aggregated("instance", "instances", project, items, ctx.url.searchParams),
    );
  });
  router.add("GET", `${BASE}/disks`, "compute.disks.aggregatedList", (ctx) => {
    const { project } = ctx.params;
    const items = [...deps.state.disks.values()]
      .filter((d) => d.project === project)
      .map((d) => ({ zone: d.zone, json: d.toJSON() }));
    sendJson(ctx.res, 200, aggregated("disk", "disks", project, items, ctx.url.searchParams));
  });
}

/** One page of an aggregated list: the resources of the page grouped by their zone's scope. */
function aggregated(
  kind: string,
  collection: string,
  project: string,
  resources: Array<{ zone: string; json: Record<string, unknown> }>,
  query: URLSearchParams,
): Record<string, unknown> {
  const zoneOf = new Map(resources.map((r) => [r.json, r.zone]));
  const page = listPage(
    resources.map((r) => r.json),
    query,
  );
  const scopes: Record<string, Record<string, unknown[]>> = {};
  for (const item of page.items) {
    const scope = `zones/${zoneOf.get(item)}`;
    (scopes[scope] ??= { [collection]: [] })[collection].push(item);
  }
  const path = `projects/${project}/aggregated/${collection}`;
  return {
    kind: `compute#${kind}AggregatedList`,
    id: path,
    items: scopes,
    ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
    selfLink: `https://www.googleapis.com/compute/v1/${path}`,
  };
}
