/**
 * Pushes an {@link OciImage} to a registry with the distribution HTTP API (monolithic blob
 * uploads, then the manifest), the way `skopeo copy` would, without another host tool.
 */
import type { OciBlob, OciImage } from "./ociImage";

/** Where to push, and how to authenticate. */
export interface PushTarget {
  /** Base URL of the registry, `http://127.0.0.1:<port>`. */
  baseUrl: string;
  /** Repository, `team/app`. */
  repository: string;
  /** Tag, `1.0`. */
  tag: string;
  /** The `Authorization` header value to send, when the registry requires one. */
  authorization?: string;
}

/** Pushes `image`; resolves to the manifest digest the registry reports (checked against ours). */
export async function pushOciImage(target: PushTarget, image: OciImage): Promise<string> {
  const base = `${target.baseUrl}/v2/${target.repository}`;
  const headers = (extra: Record<string, string> = {}): Record<string, string> =>
    target.authorization ? { Authorization: target.authorization, ...extra } : extra;
  for (const blob of [image.layer, image.config]) await pushBlob(base, blob, headers);
  const response = await fetch(`${base}/manifests/${target.tag}`, {
    method: "PUT",
    headers: headers({ "Content-Type": image.manifest.mediaType }),
    body: image.manifest.bytes,
  });
  await expectStatus(response, 201, `PUT manifest ${target.repository}:${target.tag}`);
  const digest = response.headers.get("docker-content-digest");
  if (digest !== image.manifest.digest) {
    throw new Error(
      `the registry stored ${target.repository}:${target.tag} as ${digest ?? "(no digest)"}, ` +
        `not as the pushed manifest ${image.manifest.digest}`,
    );
  }
  return digest;
}

async function pushBlob(
  base: string,
  blob: OciBlob,
  headers: (extra?: Record<string, string>) => Record<string, string>,
): Promise<void> {
  const existing = await fetch(`${base}/blobs/${blob.digest}`, {
    method: "HEAD",
    headers: headers(),
  });
  if (existing.status === 200) return;
  const started = await fetch(`${base}/blobs/uploads/`, { method: "POST", headers: headers() });
  await expectStatus(started, 202, `POST blob upload for ${blob.digest}`);
  const location = started.headers.get("location");
  if (!location)
    throw new Error(`the registry started an upload of ${blob.digest} without a Location`);
  // The Location may be relative to the registry and already carry a query (the upload state).
  const url = new URL(location, base);
  url.searchParams.set("digest", blob.digest);
  const finished = await fetch(url, {
    method: "PUT",
    headers: headers({ "Content-Type": "application/octet-stream" }),
    body: blob.bytes,
  });
  await expectStatus(finished, 201, `PUT blob ${blob.digest}`);
}

async function expectStatus(response: Response, status: number, what: string): Promise<void> {
  if (response.status === status) {
    await response.arrayBuffer();
    return;
  }
  const body = (await response.text()).slice(0, 500);
  throw new Error(`${what}: the registry answered HTTP ${response.status}: ${body}`);
}
