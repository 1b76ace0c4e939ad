import type * as pulumi from "@pulumi/pulumi";

/**
 * The build resource's provider implementation, loaded by package name from the serialized provider
 * (`preloaded-cos-image/provider-runtime`). The pipeline lands with issue #5; until then every method
 * says so instead of pretending to build.
 */
function notYet(method: string): Promise<never> {
  return Promise.reject(
    new Error(
      `preloaded-cos-image: the build pipeline (${method}) is not implemented in this version yet`,
    ),
  );
}

export function check(_olds: unknown, _news: unknown): Promise<pulumi.dynamic.CheckResult> {
  return notYet("check");
}
export function diff(
  _id: string,
  _olds: unknown,
  _news: unknown,
): Promise<pulumi.dynamic.DiffResult> {
  return notYet("diff");
}
export function create(_inputs: unknown): Promise<pulumi.dynamic.CreateResult> {
  return notYet("create");
}
export function read(_id: string, _props: unknown): Promise<pulumi.dynamic.ReadResult> {
  return notYet("read");
}
export function update(
  _id: string,
  _olds: unknown,
  _news: unknown,
): Promise<pulumi.dynamic.UpdateResult> {
  return notYet("update");
}
function deleteBuild(_id: string, _props: unknown): Promise<void> {
  return notYet("delete");
}
export { deleteBuild as delete };
