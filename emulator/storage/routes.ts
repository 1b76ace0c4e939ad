/**
 * The Cloud Storage JSON API subset: buckets insert/get/list/patch/delete; objects upload
 * (`uploadType=media`, `multipart`, `resumable` with chunked PUTs), get (metadata or `alt=media`),
 * list (prefix, delimiter, pagination), patch, delete.
 */
import { createReadStream } from "node:fs";
import { ApiError, invalid } from "../http/errors";
import { readJsonObject, sendEmpty, sendJson } from "../http/io";
import type { RequestContext, Router } from "../http/router";
import { authorizeObjectRead, type StorageAccessOptions } from "./access";
import { multipartBoundary, MultipartReader } from "./multipart";
import type {
  BucketRecord,
  ObjectRecord,
  ObjectStore,
  UploadMetadata,
  UploadSession,
} from "./objectStore";

/** GCS's default and maximum page size for object listings. */
const MAX_LIST_RESULTS = 1000;

/**
 * Registers the Cloud Storage routes; `endpoint()` is the emulator's base URL (for links), `access`
 * says which service-account tokens may read objects (see `access.ts`).
 */
export function registerStorageRoutes(
  router: Router,
  store: ObjectStore,
  endpoint: () => string,
  access: StorageAccessOptions = { deniedServiceAccounts: [] },
): void {
  const links = new Links(endpoint);
  /** The object, once the caller is known to be allowed to read it (GCS says 403 before 404). */
  const readable = (ctx: RequestContext): ObjectRecord => {
    const { bucket, object } = ctx.params;
    authorizeObjectRead(
      ctx.req.headers.authorization,
      store.bucket(bucket).project,
      bucket,
      object,
      access,
    );
    return store.object(bucket, object);
  };
  router.add("POST", "/storage/v1/b", "storage.buckets.insert", async (ctx) => {
    const project = ctx.url.searchParams.get("project");
    if (!project) throw new ApiError(400, "required", "Required parameter: project");
    sendJson(
      ctx.res,
      200,
      links.bucket(store.createBucket(project, await readJsonObject(ctx.req))),
    );
  });
  router.add("GET", "/storage/v1/b", "storage.buckets.list", (ctx) => {
    const project = ctx.url.searchParams.get("project");
    if (!project) throw new ApiError(400, "required", "Required parameter: project");
    const items = store.bucketsOf(project).map((b) => links.bucket(b));
    sendJson(ctx.res, 200, { kind: "storage#buckets", ...(items.length ? { items } : {}) });
  });
  router.add("GET", "/storage/v1/b/:bucket", "storage.buckets.get", (ctx) => {
    sendJson(ctx.res, 200, links.bucket(store.bucket(ctx.params.bucket)));
  });
  router.add("PATCH", "/storage/v1/b/:bucket", "storage.buckets.patch", async (ctx) => {
    sendJson(
      ctx.res,
      200,
      links.bucket(store.patchBucket(ctx.params.bucket, await readJsonObject(ctx.req))),
    );
  });
  router.add("DELETE", "/storage/v1/b/:bucket", "storage.buckets.delete", (ctx) => {
    store.deleteBucket(ctx.params.bucket);
    sendEmpty(ctx.res, 204);
  });

  router.add("POST", "/upload/storage/v1/b/:bucket/o", "storage.objects.insert", (ctx) =>
    upload(ctx, store, links),
  );
  router.add("PUT", "/upload/storage/v1/b/:bucket/o", "storage.objects.insert", (ctx) =>
    resumableChunk(ctx, store, links),
  );
  router.add("POST", "/storage/v1/b/:bucket/o", "storage.objects.insert", (ctx) =>
    upload(ctx, store, links),
  );
  router.add("GET", "/storage/v1/b/:bucket/o", "storage.objects.list", (ctx) =>
    listObjects(ctx, store, links),
  );
  router.add("GET", "/storage/v1/b/:bucket/o/:object", "storage.objects.get", (ctx) => {
    const object = readable(ctx);
    if (ctx.url.searchParams.get("alt") === "media") return download(ctx, object);
    sendJson(ctx.res, 200, links.object(object));
  });
  router.add("GET", "/download/storage/v1/b/:bucket/o/:object", "storage.objects.get", (ctx) => {
    download(ctx, readable(ctx));
  });
  router.add("PATCH", "/storage/v1/b/:bucket/o/:object", "storage.objects.patch", async (ctx) => {
    const body = await readJsonObject(ctx.req);
    sendJson(
      ctx.res,
      200,
      links.object(store.patchObject(ctx.params.bucket, ctx.params.object, body)),
    );
  });
  router.add("DELETE", "/storage/v1/b/:bucket/o/:object", "storage.objects.delete", async (ctx) => {
    await store.deleteObject(ctx.params.bucket, ctx.params.object);
    sendEmpty(ctx.res, 204);
  });
}

async function upload(ctx: RequestContext, store: ObjectStore, links: Links): Promise<void> {
  const { bucket } = ctx.params;
  const query = ctx.url.searchParams;
  const uploadType = query.get("uploadType") ?? "media";
  store.bucket(bucket);
  const source = ctx.req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  if (uploadType === "media") {
    const name = query.get("name");
    if (!name) throw new ApiError(400, "required", "Required parameter: name");
    store.checkGenerationMatch(bucket, name, query.get("ifGenerationMatch"));
    const object = await store.writeObject(bucket, name, ctx.req, {
      contentType: ctx.req.headers["content-type"],
      predefinedAcl: query.get("predefinedAcl") ?? undefined,
    });
    return sendJson(ctx.res, 200, links.object(object));
  }
  if (uploadType === "multipart") {
    const boundary = multipartBoundary(ctx.req.headers["content-type"]);
    if (!boundary)
      throw invalid("Multipart upload needs a multipart/related content type with a boundary.");
    const reader = new MultipartReader(source, boundary);
    if (!(await reader.nextHeaders())) throw invalid("Multipart upload without a metadata part.");
    const meta = parseMetadata((await reader.readSmallBody()).toString("utf8"));
    const mediaHeaders = await reader.nextHeaders();
    if (!mediaHeaders) throw invalid("Multipart upload without a media part.");
    const name = typeof meta.name === "string" ? meta.name : query.get("name");
    if (!name) throw new ApiError(400, "required", "Required parameter: name");
    store.checkGenerationMatch(bucket, name, query.get("ifGenerationMatch"));
    const object = await store.writeObject(bucket, name, reader.streamBody(), {
      contentType: stringOr(meta.contentType, mediaHeaders["content-type"]),
      metadata: metadataMap(meta.metadata),
      predefinedAcl: query.get("predefinedAcl") ?? undefined,
    });
    // Drain the closing delimiter so the connection stays usable.
    await reader.nextHeaders();
    return sendJson(ctx.res, 200, links.object(object));
  }
  if (uploadType === "resumable") {
    const body = await readJsonObject(ctx.req);
    const name = typeof body.name === "string" ? body.name : query.get("name");
    if (!name) throw new ApiError(400, "required", "Required parameter: name");
    store.checkGenerationMatch(bucket, name, query.get("ifGenerationMatch"));
    const length = ctx.req.headers["x-upload-content-length"];
    const meta: UploadMetadata = {
      contentType: stringOr(
        body.contentType,
        headerValue(ctx.req.headers["x-upload-content-type"]),
      ),
      metadata: metadataMap(body.metadata),
      predefinedAcl: query.get("predefinedAcl") ?? undefined,
    };
    const session = await store.startSession(
      bucket,
      name,
      meta,
      length ? Number(length) : undefined,
    );
    const location = `${links.base()}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${session.id}`;
    return sendEmpty(ctx.res, 200, { Location: location });
  }
  throw invalid(`Unsupported uploadType '${uploadType}'.`);
}

/**
 * One PUT of a resumable session. `Content-Range` forms: `bytes A-B/T` (a chunk; T may be `*`),
 * `bytes *` + `/T` or `/*` (status query or empty final chunk); no header means "all of it".
 * Answers 308 with `Range: bytes=0-N` while incomplete, the object when complete.
 */
async function resumableChunk(
  ctx: RequestContext,
  store: ObjectStore,
  links: Links,
): Promise<void> {
  const id = ctx.url.searchParams.get("upload_id");
  if (!id) throw invalid("Missing upload_id.");
  const session = store.session(id);
  const range = parseContentRange(headerValue(ctx.req.headers["content-range"]));
  if (range.total !== undefined) session.total = range.total;
  if (range.start !== undefined) {
    await store.appendToSession(session, range.start, ctx.req);
    if (range.rest) session.total = session.received;
  } else if (range.whole) {
    await store.appendToSession(session, 0, ctx.req);
    session.total = session.received;
  } else {
    // A status query carries no bytes; drain whatever was sent.
    for await (const _chunk of ctx.req) void _chunk;
  }
  if (session.total !== undefined && session.received >= session.total) {
    verifyHashes(headerValue(ctx.req.headers["x-goog-hash"]), session);
    const object = await store.finishSession(session);
    return sendJson(ctx.res, 200, links.object(object));
  }
  const headers: Record<string, string> =
    session.received > 0 ? { Range: `bytes=0-${session.received - 1}` } : {};
  sendEmpty(ctx.res, 308, headers);
}

/**
 * Parses `Content-Range`. `bytes A-B/T` is a chunk; `bytes A-*` + `/T` (or `/*`) carries the rest of
 * the object in this request, which is how the Node client sends a single-request resumable upload.
 */
function parseContentRange(header: string | undefined): {
  start?: number;
  total?: number;
  whole?: boolean;
  rest?: boolean;
} {
  if (header === undefined) return { whole: true };
  const m = /^bytes\s+(?:(\d+)-(\d+|\*)|\*)\/(\d+|\*)$/.exec(header.trim());
  if (!m) throw invalid(`Invalid Content-Range header: '${header}'`);
  return {
    ...(m[1] !== undefined ? { start: Number(m[1]) } : {}),
    ...(m[2] === "*" ? { rest: true } : {}),
    ...(m[3] !== "*" ? { total: Number(m[3]) } : {}),
  };
}

/** Refuses a final chunk whose `X-Goog-Hash` disagrees with the bytes received. */
function verifyHashes(header: string | undefined, session: UploadSession): void {
  if (!header) return;
  for (const part of header.split(",")) {
    const [kind, value] = part.trim().split(/=(.*)/s);
    const actual =
      kind === "md5"
        ? session.md5.copy().digest("base64")
        : kind === "crc32c"
          ? session.crc.base64()
          : undefined;
    if (actual !== undefined && actual !== value) {
      throw new ApiError(
        400,
        "invalid",
        `Provided ${kind} hash "${value}" doesn't match calculated hash "${actual}".`,
      );
    }
  }
}

function listObjects(ctx: RequestContext, store: ObjectStore, links: Links): void {
  const query = ctx.url.searchParams;
  const prefix = query.get("prefix") ?? "";
  const delimiter = query.get("delimiter");
  const maxResults = Math.min(
    Number(query.get("maxResults") ?? MAX_LIST_RESULTS) || MAX_LIST_RESULTS,
    MAX_LIST_RESULTS,
  );
  const after = query.get("pageToken")
    ? Buffer.from(query.get("pageToken") ?? "", "base64url").toString("utf8")
    : undefined;
  const items: ObjectRecord[] = [];
  const prefixes = new Set<string>();
  let nextPageToken: string | undefined;
  for (const object of store.list(ctx.params.bucket, prefix)) {
    if (after !== undefined && object.name <= after) continue;
    if (delimiter) {
      const cut = object.name.indexOf(delimiter, prefix.length);
      if (cut !== -1) {
        prefixes.add(object.name.slice(0, cut + delimiter.length));
        continue;
      }
    }
    if (items.length === maxResults) {
      nextPageToken = Buffer.from(items[items.length - 1].name).toString("base64url");
      break;
    }
    items.push(object);
  }
  sendJson(ctx.res, 200, {
    kind: "storage#objects",
    ...(nextPageToken ? { nextPageToken } : {}),
    ...(prefixes.size ? { prefixes: [...prefixes] } : {}),
    ...(items.length ? { items: items.map((o) => links.object(o)) } : {}),
  });
}

/** Streams the object's bytes, honouring a single `Range: bytes=a-b`. */
function download(ctx: RequestContext, object: ObjectRecord): void {
  const headers: Record<string, string | number> = {
    "Content-Type": object.contentType,
    "x-goog-hash": `crc32c=${object.crc32c},md5=${object.md5Hash}`,
    "x-goog-generation": object.generation,
    "x-goog-metageneration": String(object.metageneration),
    "x-goog-stored-content-encoding": "identity",
    "x-goog-stored-content-length": String(object.size),
    "Accept-Ranges": "bytes",
    ETag: object.md5Hash,
  };
  const range = /^bytes=(\d*)-(\d*)$/.exec(headerValue(ctx.req.headers.range) ?? "");
  if (range && object.size > 0 && (range[1] !== "" || range[2] !== "")) {
    const start = range[1] === "" ? Math.max(0, object.size - Number(range[2])) : Number(range[1]);
    const end =
      range[1] === "" || range[2] === ""
        ? object.size - 1
        : Math.min(Number(range[2]), object.size - 1);
    if (start > end || start >= object.size) {
      ctx.res.writeHead(416, { "Content-Range": `bytes */${object.size}` });
      return void ctx.res.end();
    }
    ctx.res.writeHead(206, {
      ...headers,
      "Content-Length": end - start + 1,
      "Content-Range": `bytes ${start}-${end}/${object.size}`,
    });
    createReadStream(object.filePath, { start, end }).pipe(ctx.res);
    return;
  }
  ctx.res.writeHead(200, { ...headers, "Content-Length": object.size });
  createReadStream(object.filePath).pipe(ctx.res);
}

/** Builds resource JSON with links under the emulator's endpoint. */
class Links {
  constructor(readonly base: () => string) {}

  bucket(b: BucketRecord): Record<string, unknown> {
    return {
      kind: "storage#bucket",
      id: b.name,
      selfLink: `${this.base()}/storage/v1/b/${encodeURIComponent(b.name)}`,
      name: b.name,
      timeCreated: b.timeCreated,
      updated: b.updated,
      metageneration: String(b.metageneration),
      location: b.location,
      locationType: b.location.includes("-") ? "region" : "multi-region",
      storageClass: b.storageClass,
      etag: `CA${b.metageneration}=`,
      ...(Object.keys(b.labels).length ? { labels: b.labels } : {}),
      ...(b.lifecycle !== undefined ? { lifecycle: b.lifecycle } : {}),
      ...b.extra,
    };
  }

  object(o: ObjectRecord): Record<string, unknown> {
    const path = `b/${encodeURIComponent(o.bucket)}/o/${encodeURIComponent(o.name)}`;
    return {
      kind: "storage#object",
      id: `${o.bucket}/${o.name}/${o.generation}`,
      selfLink: `${this.base()}/storage/v1/${path}`,
      mediaLink: `${this.base()}/download/storage/v1/${path}?generation=${o.generation}&alt=media`,
      name: o.name,
      bucket: o.bucket,
      generation: o.generation,
      metageneration: String(o.metageneration),
      contentType: o.contentType,
      storageClass: "STANDARD",
      size: String(o.size),
      md5Hash: o.md5Hash,
      crc32c: o.crc32c,
      etag: `${o.md5Hash}/${o.metageneration}`,
      timeCreated: o.timeCreated,
      updated: o.updated,
      timeStorageClassUpdated: o.timeCreated,
      ...(o.metadata ? { metadata: o.metadata } : {}),
    };
  }
}

function parseMetadata(text: string): Record<string, unknown> {
  if (text.trim() === "") return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw invalid("Invalid JSON in the metadata part of a multipart upload.");
}

function metadataMap(value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value))
    throw invalid("Object metadata must be a map of strings.");
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, String(v as string)]),
  );
}

function stringOr(value: unknown, fallback: string | undefined): string | undefined {
  return typeof value === "string" ? value : fallback;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
