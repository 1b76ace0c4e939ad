/**
 * The scripted guest's fetch of its CIDATA tree from Cloud Storage, done as the real start script
 * does it (`provisioner-assets/start.sh`): the service-account token from the instance's metadata
 * server, an HTTP GET of the object with it, and the size and SHA-256 from the metadata checked
 * before the tree counts as delivered. Without a route to Google's APIs the request is never made:
 * the guest waits what curl's connect timeout would on GCE (the model's `unroutedConnect`), then
 * fails as it does.
 */
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import type { GuestContext } from "./guest";

/** How long a 404 (the orchestrator's upload still under way) is retried, unscaled ms. */
const OBJECT_WAIT_MS = 300_000;

/** What the fetch came to: the archive's size, or why it could not be used. */
export type FetchResult = { ok: true; bytes: number } | { ok: false; reason: string };

/** Fetches and verifies the tree named by a `pci-cidata-fetch` value (`<url> <bytes> <sha256>`). */
export async function fetchCidata(ctx: GuestContext, value: string): Promise<FetchResult> {
  const [url, sizeText, digest] = value.trim().split(/\s+/);
  if (!url || !/^\d+$/.test(sizeText ?? "") || !/^[0-9a-f]{64}$/.test(digest ?? ""))
    return { ok: false, reason: "the fetch metadata is malformed" };
  if (!ctx.reachesGoogleApis) {
    await ctx.sleep(ctx.modelDelayMs("unroutedConnect"));
    if (ctx.signal.aborted) return { ok: false, reason: "the boot ended" };
    return { ok: false, reason: "no route to Cloud Storage (connection timed out)" };
  }
  let token: string;
  try {
    const answer = await fetch(
      `${ctx.metadataServer.url}/computeMetadata/v1/instance/service-accounts/default/token`,
      { headers: { "Metadata-Flavor": "Google" }, signal: ctx.signal },
    );
    if (!answer.ok)
      return { ok: false, reason: `no service-account token (HTTP ${answer.status})` };
    token = ((await answer.json()) as { access_token: string }).access_token;
  } catch (error) {
    return { ok: false, reason: `no service-account token (${(error as Error).message})` };
  }
  const started = Date.now();
  for (;;) {
    let answer: Response;
    try {
      answer = await fetch(url, {
        headers: { Authorization: `Bearer ${token}` },
        signal: ctx.signal,
      });
    } catch (error) {
      return { ok: false, reason: `Cloud Storage unreachable (${(error as Error).message})` };
    }
    if (answer.status === 404 && Date.now() - started < OBJECT_WAIT_MS) {
      await answer.arrayBuffer();
      await ctx.sleep(200);
      if (ctx.signal.aborted) return { ok: false, reason: "the boot ended" };
      continue;
    }
    if (!answer.ok) {
      await answer.arrayBuffer();
      return { ok: false, reason: `HTTP ${answer.status} from Cloud Storage` };
    }
    const bytes = Buffer.from(await answer.arrayBuffer());
    const actual = createHash("sha256").update(bytes).digest("hex");
    if (bytes.length !== Number(sizeText) || actual !== digest) {
      return {
        ok: false,
        reason: `the object is ${bytes.length} bytes with sha256 ${actual}, not the ${sizeText} bytes with sha256 ${digest} announced`,
      };
    }
    try {
      gunzipSync(bytes);
    } catch {
      return { ok: false, reason: "the object is no gzip'd tar" };
    }
    return { ok: true, bytes: bytes.length };
  }
}
