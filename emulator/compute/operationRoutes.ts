/** `zoneOperations.*` and `globalOperations.*`: get, wait (blocks up to the cap), list. */
import { sendJson } from "../http/io";
import type { RequestContext, Router } from "../http/router";
import { listResponse } from "./common";
import type { ComputeDeps } from "./deps";
import { listPage } from "./listing";
import type { OperationScope } from "./operations";

/** Registers the operation routes. */
export function registerOperationRoutes(router: Router, deps: ComputeDeps): void {
  const zonal = "/compute/v1/projects/:project/zones/:zone/operations";
  const global = "/compute/v1/projects/:project/global/operations";
  const scopeOf = (ctx: RequestContext): OperationScope =>
    ctx.params.zone
      ? { project: ctx.params.project, zone: ctx.params.zone }
      : { project: ctx.params.project };

  for (const [base, service] of [
    [zonal, "zoneOperations"],
    [global, "globalOperations"],
  ] as const) {
    router.add("GET", `${base}/:operation`, `compute.${service}.get`, (ctx) => {
      sendJson(ctx.res, 200, deps.operations.get(scopeOf(ctx), ctx.params.operation).toJSON());
    });
    router.add("POST", `${base}/:operation/wait`, `compute.${service}.wait`, async (ctx) => {
      const op = deps.operations.get(scopeOf(ctx), ctx.params.operation);
      const gone = new AbortController();
      ctx.res.once("close", () => gone.abort());
      await deps.operations.wait(op, gone.signal);
      if (!ctx.res.destroyed) sendJson(ctx.res, 200, op.toJSON());
    });
    router.add("GET", base, `compute.${service}.list`, (ctx) => {
      const scope = scopeOf(ctx);
      const ops = deps.operations
        .all()
        .filter((op) => op.scope.project === scope.project && op.scope.zone === scope.zone)
        .map((op) => ({ ...op.toJSON(), creationTimestamp: op.insertTime }));
      const page = listPage(ops, ctx.url.searchParams);
      const path = scope.zone
        ? `projects/${scope.project}/zones/${scope.zone}/operations`
        : `projects/${scope.project}/global/operations`;
      sendJson(ctx.res, 200, listResponse("compute#operationList", path, page));
    });
  }
}
