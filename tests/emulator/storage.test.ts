import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { expect } from "chai";
import { rejection, startHarness, type Harness } from "./harness";

const BUCKET = "pci-scratch-test";
const MIB = 1024 * 1024;

describe("emulator: Cloud Storage through the real Storage client", () => {
  let h: Harness;
  let payload: Buffer;
  let payloadPath: string;
  before(async () => {
    h = await startHarness();
    // Several MiB of incompressible bytes, not a multiple of the chunk size.
    payload = randomBytes(5 * MIB + 12345);
    payloadPath = join(h.tmp, "payload.bin");
    await writeFile(payloadPath, payload);
  });
  after(() => h.close());

  const md5 = (data: Buffer): string => createHash("md5").update(data).digest("base64");

  it("creates, reads and refuses duplicate buckets", async () => {
    const [bucket] = await h.clients.storage.createBucket(BUCKET, {
      location: "us-central1",
      lifecycle: { rule: [{ action: { type: "Delete" }, condition: { age: 1 } }] },
    });
    const [metadata] = await bucket.getMetadata();
    expect(metadata.name).to.equal(BUCKET);
    expect(metadata.location).to.equal("US-CENTRAL1");
    expect(metadata.lifecycle?.rule?.[0]?.condition?.age).to.equal(1);
    const dup = await rejection(h.clients.storage.createBucket(BUCKET));
    expect(dup.code).to.equal(409);
    const [exists] = await h.clients.storage.bucket("no-such-bucket").exists();
    expect(exists).to.equal(false);
  });

  it("uploads with multipart (resumable: false) and keeps custom metadata", async () => {
    const file = h.clients.storage.bucket(BUCKET).file("builds/b1/multipart.bin");
    await h.clients.storage.bucket(BUCKET).upload(payloadPath, {
      destination: file,
      resumable: false,
      metadata: { contentType: "application/gzip", metadata: { "pci-build-id": "b1" } },
    });
    const [meta] = await file.getMetadata();
    expect(Number(meta.size)).to.equal(payload.length);
    expect(meta.md5Hash).to.equal(md5(payload));
    expect(meta.contentType).to.equal("application/gzip");
    expect(meta.metadata).to.deep.equal({ "pci-build-id": "b1" });
    const [downloaded] = await file.download();
    expect(downloaded.equals(payload)).to.equal(true);
  });

  it("uploads resumably in several chunks (308 + Range between them)", async () => {
    const file = h.clients.storage.bucket(BUCKET).file("builds/b1/resumable.bin");
    const before = h.emulator.requestLog.count("storage.objects.insert");
    await pipeline(
      createReadStream(payloadPath),
      file.createWriteStream({
        resumable: true,
        chunkSize: MIB,
        metadata: { metadata: { part: "chunked" } },
      }),
    );
    const requests = h.emulator.requestLog
      .entries()
      .slice(-20)
      .filter((e) => e.method === "storage.objects.insert");
    // One session start plus six chunk PUTs (5 full MiB + the remainder), five of them answered 308.
    expect(h.emulator.requestLog.count("storage.objects.insert") - before).to.equal(7);
    expect(requests.filter((e) => e.status === 308)).to.have.length(5);
    const [meta] = await file.getMetadata();
    expect(Number(meta.size)).to.equal(payload.length);
    expect(meta.md5Hash).to.equal(md5(payload));
    expect(meta.metadata).to.deep.equal({ part: "chunked" });
    const [downloaded] = await file.download();
    expect(downloaded.equals(payload)).to.equal(true);
  });

  it("uploads resumably in one request (bucket.upload default)", async () => {
    await h.clients.storage
      .bucket(BUCKET)
      .upload(payloadPath, { destination: "builds/b2/single.bin" });
    const [downloaded] = await h.clients.storage
      .bucket(BUCKET)
      .file("builds/b2/single.bin")
      .download();
    expect(downloaded.equals(payload)).to.equal(true);
  });

  it("accepts uploadType=media (which gcloud and curl send; the Node client never does)", async () => {
    const body = Buffer.from("media upload body");
    const response = await fetch(
      `${h.emulator.endpoint}/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=${encodeURIComponent("builds/b3/media.txt")}`,
      {
        method: "POST",
        headers: { Authorization: "Bearer emulator-token", "Content-Type": "text/plain" },
        body,
      },
    );
    expect(response.status).to.equal(200);
    const object = (await response.json()) as { name: string; size: string; md5Hash: string };
    expect(object).to.include({
      name: "builds/b3/media.txt",
      size: String(body.length),
      md5Hash: md5(body),
    });
    const [downloaded] = await h.clients.storage
      .bucket(BUCKET)
      .file("builds/b3/media.txt")
      .download();
    expect(downloaded.toString()).to.equal("media upload body");
  });

  it("lists by prefix with pagination and delimiter", async () => {
    const bucket = h.clients.storage.bucket(BUCKET);
    const [b1] = await bucket.getFiles({ prefix: "builds/b1/" });
    expect(b1.map((f) => f.name)).to.deep.equal([
      "builds/b1/multipart.bin",
      "builds/b1/resumable.bin",
    ]);
    const [page, next] = await bucket.getFiles({
      prefix: "builds/",
      maxResults: 2,
      autoPaginate: false,
    });
    expect(page.map((f) => f.name)).to.deep.equal([
      "builds/b1/multipart.bin",
      "builds/b1/resumable.bin",
    ]);
    expect(next).to.have.property("pageToken");
    const [rest] = await bucket.getFiles({
      ...(next as object),
      prefix: "builds/",
      maxResults: 2,
      autoPaginate: false,
    });
    expect(rest.map((f) => f.name)).to.deep.equal(["builds/b2/single.bin", "builds/b3/media.txt"]);
    const [, , apiResponse] = await bucket.getFiles({
      prefix: "builds/",
      delimiter: "/",
      autoPaginate: false,
    });
    expect((apiResponse as { prefixes?: string[] }).prefixes).to.deep.equal([
      "builds/b1/",
      "builds/b2/",
      "builds/b3/",
    ]);
  });

  it("serves ranged downloads", async () => {
    const [part] = await h.clients.storage
      .bucket(BUCKET)
      .file("builds/b2/single.bin")
      .download({ start: 10, end: 19 });
    expect(part.equals(payload.subarray(10, 20))).to.equal(true);
  });

  it("deletes objects, 404s afterwards, and refuses to delete a non-empty bucket", async () => {
    const bucket = h.clients.storage.bucket(BUCKET);
    const nonEmpty = await rejection(bucket.delete());
    expect(nonEmpty.code).to.equal(409);
    await bucket.deleteFiles({ prefix: "builds/" });
    const [left] = await bucket.getFiles();
    expect(left).to.deep.equal([]);
    const gone = await rejection(bucket.file("builds/b1/multipart.bin").download());
    expect(gone.code).to.equal(404);
    await bucket.delete();
    expect(h.emulator.inventory().buckets.filter((b) => b.name === BUCKET)).to.deep.equal([]);
  });
});
