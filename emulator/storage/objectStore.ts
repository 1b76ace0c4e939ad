/**
 * Buckets and objects. Object bytes live in files under `<dataDir>/storage` (uploads are streamed
 * to disk with their MD5 and CRC-32C computed on the way); only metadata is kept in memory.
 */
import { createHash, randomUUID, type Hash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable, Transform } from "node:stream";
import { ApiError, invalid } from "../http/errors";
import { Crc32c } from "./crc32c";

/** A bucket. */
export interface BucketRecord {
  /** Bucket name. */
  name: string;
  /** Owning project id. */
  project: string;
  /** Location, e.g. `US`. */
  location: string;
  /** Default storage class. */
  storageClass: string;
  /** RFC 3339 creation time. */
  timeCreated: string;
  /** RFC 3339 last update. */
  updated: string;
  /** Bumped on every metadata change. */
  metageneration: number;
  /** Labels. */
  labels: Record<string, string>;
  /** Lifecycle configuration as sent. */
  lifecycle?: unknown;
  /** Other fields sent at insert or patch (iamConfiguration, versioning, ...), kept as sent. */
  extra: Record<string, unknown>;
}

/** An object. */
export interface ObjectRecord {
  /** Bucket name. */
  bucket: string;
  /** Object name. */
  name: string;
  /** Generation (microseconds since epoch, like GCS). */
  generation: string;
  /** Metadata generation. */
  metageneration: number;
  /** Size in bytes. */
  size: number;
  /** Base64 MD5. */
  md5Hash: string;
  /** Base64 big-endian CRC-32C. */
  crc32c: string;
  /** Content type. */
  contentType: string;
  /** Custom metadata. */
  metadata?: Record<string, string>;
  /** The `predefinedAcl` of the upload (e.g. `projectPrivate`), when one was given. */
  predefinedAcl?: string;
  /** RFC 3339 creation time. */
  timeCreated: string;
  /** RFC 3339 last update. */
  updated: string;
  /** File holding the bytes. */
  filePath: string;
}

/** Metadata given with an upload. */
export interface UploadMetadata {
  /** Content type; default `application/octet-stream`. */
  contentType?: string;
  /** Custom metadata. */
  metadata?: Record<string, string>;
  /** `predefinedAcl` query parameter of the upload. */
  predefinedAcl?: string;
}

/** A resumable upload in progress. */
export interface UploadSession {
  /** Session id (`upload_id`). */
  id: string;
  /** Target bucket. */
  bucket: string;
  /** Target object name. */
  name: string;
  /** Metadata given when the session started. */
  meta: UploadMetadata;
  /** File receiving the bytes. */
  tempPath: string;
  /** Bytes persisted so far. */
  received: number;
  /** Total size when known. */
  total?: number;
  /** Running hashes. */
  md5: Hash;
  /** Running CRC-32C. */
  crc: Crc32c;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;

/** The buckets, objects and upload sessions of the emulator. */
export class ObjectStore {
  private readonly buckets = new Map<string, BucketRecord>();
  private readonly objects = new Map<string, Map<string, ObjectRecord>>();
  private readonly sessions = new Map<string, UploadSession>();
  private lastGeneration = 0;

  /** @param root Directory for object files (`<dataDir>/storage`). */
  constructor(private readonly root: string) {}

  /** Creates a bucket; 409 when the name is taken, 400 when invalid. */
  createBucket(project: string, body: Record<string, unknown>): BucketRecord {
    const name = body.name;
    if (typeof name !== "string" || name === "")
      throw new ApiError(400, "required", "Required field 'name' not specified");
    if (!BUCKET_NAME.test(name) || name.includes(".."))
      throw invalid(`Invalid bucket name: '${name}'`);
    if (this.buckets.has(name)) {
      throw new ApiError(
        409,
        "conflict",
        "Your previous request to create the named bucket succeeded and you already own it.",
      );
    }
    const now = new Date().toISOString();
    const { location, storageClass, labels, lifecycle } = body;
    const extra = omit(body, ["name", "location", "storageClass", "labels", "lifecycle"]);
    const bucket: BucketRecord = {
      name,
      project,
      location: typeof location === "string" ? location.toUpperCase() : "US",
      storageClass: typeof storageClass === "string" ? storageClass : "STANDARD",
      timeCreated: now,
      updated: now,
      metageneration: 1,
      labels: (labels as Record<string, string> | undefined) ?? {},
      lifecycle,
      extra,
    };
    this.buckets.set(name, bucket);
    this.objects.set(name, new Map());
    return bucket;
  }

  /** The bucket, or 404. */
  bucket(name: string): BucketRecord {
    const bucket = this.buckets.get(name);
    if (!bucket) throw new ApiError(404, "notFound", "The specified bucket does not exist.");
    return bucket;
  }

  /** Buckets of a project. */
  bucketsOf(project: string): BucketRecord[] {
    return [...this.buckets.values()].filter((b) => b.project === project);
  }

  /** Every bucket. */
  allBuckets(): BucketRecord[] {
    return [...this.buckets.values()];
  }

  /** Updates bucket fields (PATCH semantics). */
  patchBucket(name: string, body: Record<string, unknown>): BucketRecord {
    const bucket = this.bucket(name);
    const { labels, lifecycle, storageClass } = body;
    // Name and location cannot change.
    const extra = omit(body, ["name", "location", "storageClass", "labels", "lifecycle"]);
    if (labels !== undefined) bucket.labels = (labels as Record<string, string> | null) ?? {};
    if (lifecycle !== undefined) bucket.lifecycle = lifecycle;
    if (typeof storageClass === "string") bucket.storageClass = storageClass;
    Object.assign(bucket.extra, extra);
    bucket.metageneration++;
    bucket.updated = new Date().toISOString();
    return bucket;
  }

  /** Deletes an empty bucket; 409 when it still holds objects. */
  deleteBucket(name: string): void {
    this.bucket(name);
    if ((this.objects.get(name)?.size ?? 0) > 0) {
      throw new ApiError(409, "conflict", "The bucket you tried to delete is not empty.");
    }
    this.buckets.delete(name);
    this.objects.delete(name);
  }

  /** The object, or 404. */
  object(bucket: string, name: string): ObjectRecord {
    this.bucket(bucket);
    const object = this.objects.get(bucket)?.get(name);
    if (!object) throw new ApiError(404, "notFound", `No such object: ${bucket}/${name}`);
    return object;
  }

  /** The object's file and size, or undefined (used by images.insert). */
  objectFile(bucket: string, name: string): { path: string; size: number } | undefined {
    const object = this.objects.get(bucket)?.get(name);
    return object ? { path: object.filePath, size: object.size } : undefined;
  }

  /** Objects of a bucket whose names start with `prefix`, sorted by name. */
  list(bucket: string, prefix = ""): ObjectRecord[] {
    this.bucket(bucket);
    return [...(this.objects.get(bucket)?.values() ?? [])]
      .filter((o) => o.name.startsWith(prefix))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Every object of every bucket. */
  allObjects(): ObjectRecord[] {
    return [...this.objects.values()].flatMap((m) => [...m.values()]);
  }

  /** Deletes an object (404 when absent). */
  async deleteObject(bucket: string, name: string): Promise<void> {
    const object = this.object(bucket, name);
    this.objects.get(bucket)?.delete(name);
    await rm(object.filePath, { force: true });
  }

  /** Updates an object's content type / custom metadata (PATCH semantics; null removes a key). */
  patchObject(bucket: string, name: string, body: Record<string, unknown>): ObjectRecord {
    const object = this.object(bucket, name);
    if (typeof body.contentType === "string") object.contentType = body.contentType;
    if (body.metadata === null) object.metadata = undefined;
    else if (body.metadata && typeof body.metadata === "object") {
      const merged: Record<string, string> = { ...(object.metadata ?? {}) };
      for (const [k, v] of Object.entries(body.metadata as Record<string, unknown>)) {
        if (v === null) delete merged[k];
        else merged[k] = typeof v === "string" ? v : JSON.stringify(v);
      }
      object.metadata = merged;
    }
    object.metageneration++;
    object.updated = new Date().toISOString();
    return object;
  }

  /** Throws 412 unless the `ifGenerationMatch` precondition (if any) holds for the current object. */
  checkGenerationMatch(bucket: string, name: string, ifGenerationMatch: string | null): void {
    if (ifGenerationMatch === null) return;
    const current = this.objects.get(bucket)?.get(name)?.generation ?? "0";
    if (current !== ifGenerationMatch) {
      throw new ApiError(
        412,
        "conditionNotMet",
        "At least one of the pre-conditions you specified did not hold.",
      );
    }
  }

  /** Streams `source` into a new object (replacing any previous generation). */
  async writeObject(
    bucket: string,
    name: string,
    source: AsyncIterable<Buffer>,
    meta: UploadMetadata,
  ): Promise<ObjectRecord> {
    this.bucket(bucket);
    validateObjectName(name);
    const tempPath = await this.tempFile();
    const md5 = createHash("md5");
    const crc = new Crc32c();
    let size = 0;
    try {
      await pipeline(
        Readable.from(source),
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            md5.update(chunk);
            crc.update(chunk);
            size += chunk.length;
            done(null, chunk);
          },
        }),
        createWriteStream(tempPath),
      );
    } catch (err) {
      await rm(tempPath, { force: true });
      throw err;
    }
    return this.commit(bucket, name, tempPath, size, md5.digest("base64"), crc.base64(), meta);
  }

  /** Starts a resumable upload session. */
  async startSession(
    bucket: string,
    name: string,
    meta: UploadMetadata,
    total?: number,
  ): Promise<UploadSession> {
    this.bucket(bucket);
    validateObjectName(name);
    const session: UploadSession = {
      id: randomUUID().replace(/-/g, ""),
      bucket,
      name,
      meta,
      tempPath: await this.tempFile(),
      received: 0,
      total,
      md5: createHash("md5"),
      crc: new Crc32c(),
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The session, or 404. */
  session(id: string): UploadSession {
    const session = this.sessions.get(id);
    if (!session) throw new ApiError(404, "notFound", `No such upload session: ${id}`);
    return session;
  }

  /**
   * Appends the bytes of one chunk request that starts at absolute offset `offset`; bytes the
   * session already has are skipped (a retried chunk), a gap is refused.
   */
  async appendToSession(
    session: UploadSession,
    offset: number,
    source: AsyncIterable<Buffer>,
  ): Promise<void> {
    if (offset > session.received) {
      throw invalid(
        `Upload chunk starts at ${offset} but only ${session.received} bytes were received.`,
      );
    }
    let skip = session.received - offset;
    const out = createWriteStream(session.tempPath, { flags: "a" });
    await pipeline(
      Readable.from(source),
      new Transform({
        transform(chunk: Buffer, _enc, done) {
          let data = chunk;
          if (skip > 0) {
            const dropped = Math.min(skip, data.length);
            data = data.subarray(dropped);
            skip -= dropped;
          }
          session.md5.update(data);
          session.crc.update(data);
          session.received += data.length;
          done(null, data);
        },
      }),
      out,
    );
  }

  /** Finishes a session into an object. */
  async finishSession(session: UploadSession): Promise<ObjectRecord> {
    this.sessions.delete(session.id);
    return this.commit(
      session.bucket,
      session.name,
      session.tempPath,
      session.received,
      session.md5.digest("base64"),
      session.crc.base64(),
      session.meta,
    );
  }

  /** Removes every file (emulator shutdown). */
  async removeAll(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }

  private async commit(
    bucket: string,
    name: string,
    tempPath: string,
    size: number,
    md5Hash: string,
    crc32c: string,
    meta: UploadMetadata,
  ): Promise<ObjectRecord> {
    const objects = this.objects.get(bucket);
    if (!objects) {
      await rm(tempPath, { force: true });
      throw new ApiError(404, "notFound", "The specified bucket does not exist.");
    }
    const filePath = join(this.root, "objects", randomUUID());
    await mkdir(join(this.root, "objects"), { recursive: true });
    await rename(tempPath, filePath);
    const previous = objects.get(name);
    const now = new Date().toISOString();
    const object: ObjectRecord = {
      bucket,
      name,
      generation: this.nextGeneration(),
      metageneration: 1,
      size,
      md5Hash,
      crc32c,
      contentType: meta.contentType ?? "application/octet-stream",
      ...(meta.metadata ? { metadata: meta.metadata } : {}),
      ...(meta.predefinedAcl ? { predefinedAcl: meta.predefinedAcl } : {}),
      timeCreated: now,
      updated: now,
      filePath,
    };
    objects.set(name, object);
    if (previous) await rm(previous.filePath, { force: true });
    return object;
  }

  private async tempFile(): Promise<string> {
    await mkdir(join(this.root, "uploads"), { recursive: true });
    return join(this.root, "uploads", randomUUID());
  }

  /** GCS generations are microsecond timestamps; keep them strictly increasing. */
  private nextGeneration(): string {
    this.lastGeneration = Math.max(this.lastGeneration + 1, Date.now() * 1000);
    return String(this.lastGeneration);
  }
}

function validateObjectName(name: string): void {
  if (name === "") throw new ApiError(400, "required", "Required parameter 'name' not specified");
  if (Buffer.byteLength(name) > 1024 || name === "." || name === ".." || /[\r\n]/.test(name)) {
    throw invalid(`Invalid object name: '${name}'`);
  }
}

/** A copy of `record` without `keys`. */
function omit(record: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([key]) => !keys.includes(key)));
}
