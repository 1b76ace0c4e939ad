/**
 * True for a value that the program does not know yet: an Output or a Promise. Duck-typed so that
 * the modules that use it do not load `@pulumi/pulumi`: the provider process runs them too.
 */
export function isOutputOrPromise(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    ("__pulumiOutput" in value || typeof (value as { then?: unknown }).then === "function")
  );
}
