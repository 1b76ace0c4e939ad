import { CREDENTIAL_KEYS } from "../keys";
import type { ArgsReader } from "../reader";
import { unknownKeyProblems } from "../suggest";
import { type StepFields, checkKnownKeys } from "./options";

// A container image reference: [host[:port]/]path[:tag][@algorithm:hex].
const IMAGE_REFERENCE =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,})?$/;
const REGISTRY_HOST = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?$/;
const RUNTIMES = ["containerd", "docker", "both"];

/** `preloadImages` rules: image references, the runtime, and registry credentials. */
export function checkPreloadImages(r: ArgsReader, field: string, fields: StepFields): void {
  checkKnownKeys(r, field, fields, ["images", "runtime", "useServiceAccount", "credentials"]);
  checkImages(r, `${field}.images`, fields.images);
  const runtime = r.string(`${field}.runtime`, fields.runtime);
  if (runtime !== undefined && !RUNTIMES.includes(runtime)) {
    r.report({
      field: `${field}.runtime`,
      value: runtime,
      message: "is not a container runtime",
      fix: 'use "containerd", "docker" or "both"',
    });
  }
  r.boolean(`${field}.useServiceAccount`, fields.useServiceAccount);
  checkCredentials(r, `${field}.credentials`, fields.credentials);
}

function checkImages(r: ArgsReader, field: string, input: unknown): void {
  const images = r.stringArray(field, input);
  if (
    !r.isSet(input) ||
    (images !== undefined && images.length === 0 && Array.isArray(input) && input.length === 0)
  ) {
    r.report({
      field,
      message: "lists no image",
      fix: 'give at least one image reference, such as "nginx:1.27"',
    });
  }
  (images ?? []).forEach((image) => {
    if (!IMAGE_REFERENCE.test(image)) {
      r.report({
        field,
        value: image,
        message: "has an invalid image reference",
        fix: 'use [registry/]repository[:tag][@sha256:digest], e.g. "us-docker.pkg.dev/p/repo/app@sha256:..."',
      });
    }
  });
}

function checkCredentials(r: ArgsReader, field: string, input: unknown): void {
  if (!r.isSet(input) || r.isPending(input)) return;
  if (!Array.isArray(input)) {
    r.report({
      field,
      message: "must be a list",
      fix: "give an array of { registry, username, password }",
    });
    return;
  }
  const registries = new Set<string>();
  (input as unknown[]).forEach((credential, index) => {
    const credentialField = `${field}[${index}]`;
    if (typeof credential !== "object" || credential === null) {
      r.report({
        field: credentialField,
        message: "must be an object",
        fix: "give { registry, username, password }",
      });
      return;
    }
    for (const problem of unknownKeyProblems(
      credentialField,
      credential,
      CREDENTIAL_KEYS,
      "is not a field of a registry credential",
      "fields",
    )) {
      r.report(problem);
    }
    const { registry, username, password } = credential as StepFields;
    const host = checkRegistry(r, `${credentialField}.registry`, registry, registries);
    if (host !== undefined) registries.add(host);
    checkSecretString(r, credentialField, "username", username);
    checkSecretString(r, credentialField, "password", password);
  });
}

/** The registry host, or undefined when not known; `seen` holds earlier credentials' hosts. */
function checkRegistry(
  r: ArgsReader,
  field: string,
  input: unknown,
  seen: ReadonlySet<string>,
): string | undefined {
  const host = r.string(field, input);
  if (!r.isSet(input)) {
    r.report({
      field,
      message: "is required",
      fix: 'name the registry host, e.g. "ghcr.io"',
    });
  } else if (host !== undefined && !REGISTRY_HOST.test(host)) {
    r.report({
      field,
      value: host,
      message: "is not a registry host name",
      fix: 'give a host name with an optional port, without scheme or path, e.g. "registry.example.com:5000"',
    });
  } else if (host !== undefined && seen.has(host)) {
    r.report({
      field,
      value: host,
      message: "has credentials twice",
      fix: "keep one credential per registry",
    });
  }
  return host;
}

/** A required credential string; its value is never echoed (it is a secret, or holds one). */
function checkSecretString(
  r: ArgsReader,
  credentialField: string,
  name: "username" | "password",
  value: unknown,
): void {
  if (!r.isSet(value)) {
    r.report({
      field: `${credentialField}.${name}`,
      message: "is required",
      fix: `give the registry ${name} (use pulumi.secret or config.requireSecret)`,
    });
  } else if (!r.isPending(value) && typeof value !== "string") {
    r.report({
      field: `${credentialField}.${name}`,
      message: "must be a string",
      fix: `give the ${name} as a string`,
    });
  }
}
