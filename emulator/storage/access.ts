/**
 * Just enough Cloud IAM for the build VM's own reads: the metadata server hands out a token that
 * names the instance's service account and scopes, and the storage API lets that token read an
 * object only where Google would: the scopes allow Cloud Storage, the account belongs to the
 * bucket's project (objects are `projectPrivate`), and the test has not taken its access away.
 * Any other bearer token is the orchestrator's (a project owner), as before.
 */
import { ApiError } from "../http/errors";
import { globMatches } from "../glob";
import { projectNumber } from "../compute/ids";

/** Prefix of the access tokens the metadata server issues for a service account. */
const SERVICE_ACCOUNT_TOKEN_PREFIX = "emulator-sa.";

/** Scopes that let a token read Cloud Storage. */
const STORAGE_READ_SCOPES = [
  "https://www.googleapis.com/auth/cloud-platform",
  "https://www.googleapis.com/auth/cloud-platform.read-only",
  "https://www.googleapis.com/auth/devstorage.read_only",
  "https://www.googleapis.com/auth/devstorage.read_write",
  "https://www.googleapis.com/auth/devstorage.full_control",
];

/** Who a service-account token stands for. */
export interface ServiceAccountIdentity {
  /** The account's email. */
  email: string;
  /** The OAuth scopes the instance grants it. */
  scopes: string[];
}

/** The access token the metadata server gives an instance for `identity`. */
export function serviceAccountToken(identity: ServiceAccountIdentity): string {
  return SERVICE_ACCOUNT_TOKEN_PREFIX + Buffer.from(JSON.stringify(identity)).toString("base64url");
}

/** The service account an `Authorization` header names, or undefined for any other caller. */
export function serviceAccountOf(
  authorization: string | undefined,
): ServiceAccountIdentity | undefined {
  const token = /^Bearer\s+(\S+)/i.exec(authorization ?? "")?.[1];
  if (!token?.startsWith(SERVICE_ACCOUNT_TOKEN_PREFIX)) return undefined;
  try {
    const parsed = JSON.parse(
      Buffer.from(token.slice(SERVICE_ACCOUNT_TOKEN_PREFIX.length), "base64url").toString("utf8"),
    ) as Partial<ServiceAccountIdentity>;
    if (typeof parsed.email === "string" && Array.isArray(parsed.scopes))
      return { email: parsed.email, scopes: parsed.scopes.map(String) };
  } catch {
    // fall through: a malformed token is refused below
  }
  throw new ApiError(401, "authError", "Invalid Credentials");
}

/** Which service accounts lose their storage access (globs on the email). */
export interface StorageAccessOptions {
  deniedServiceAccounts: readonly string[];
}

/** True when `email` is one of `project`'s own service accounts (default compute or IAM-made). */
function belongsTo(email: string, project: string): boolean {
  return (
    email === `${projectNumber(project)}-compute@developer.gserviceaccount.com` ||
    email.endsWith(`@${project}.iam.gserviceaccount.com`)
  );
}

/**
 * Throws Google's 403 unless the caller of `authorization` may read objects of a bucket of
 * `project` (callers that are not a service account always may).
 */
export function authorizeObjectRead(
  authorization: string | undefined,
  project: string,
  bucket: string,
  object: string,
  options: StorageAccessOptions,
): void {
  const account = serviceAccountOf(authorization);
  if (!account) return;
  if (!account.scopes.some((scope) => STORAGE_READ_SCOPES.includes(scope))) {
    throw new ApiError(
      403,
      "insufficientPermissions",
      "Request had insufficient authentication scopes.",
    );
  }
  const denied = options.deniedServiceAccounts.some((pattern) =>
    globMatches(pattern, account.email),
  );
  if (denied || !belongsTo(account.email, project)) {
    throw new ApiError(
      403,
      "forbidden",
      `${account.email} does not have storage.objects.get access to the Google Cloud Storage object. Permission 'storage.objects.get' denied on resource (or it may not exist). (${bucket}/${object})`,
    );
  }
}
