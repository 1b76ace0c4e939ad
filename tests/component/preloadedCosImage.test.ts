import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type * as components from "../../components";

/** One registration as the mock engine saw it. */
interface Registration {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  custom: boolean;
}

const registrations: Registration[] = [];
const DYNAMIC_TYPE = "pulumi-nodejs:dynamic/preloaded-cos-image:ImageBuild";
const SWEEPER_TYPE = "pulumi-nodejs:dynamic/preloaded-cos-image:LeftoverSweeper";

/** What the build resource reports once built, derived from its inputs the way the provider would. */
function builtState(inputs: Record<string, unknown>): Record<string, unknown> {
  const args = inputs.args as { imageFamily?: string; project: string };
  const imageName = `${String(inputs.namePrefix)}-0123abcd`;
  return {
    ...inputs,
    imageName,
    imageSelfLink: `https://www.googleapis.com/compute/v1/projects/${args.project}/global/images/${imageName}`,
    imageId: "4242424242",
    imageFamily: args.imageFamily,
    sourceImage: "projects/cos-cloud/global/images/cos-stable-117-18613-164-4",
  };
}

function unwrap<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

/** URNs the mock engine assigned, which carry the parent chain (`Parent$Child`). */
function registeredUrns(): string[] {
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    getRegisteredResources(): Map<string, unknown>;
  };
  return [...monitor.getRegisteredResources().keys()];
}

describe("PreloadedCosImage (under Pulumi mocks)", function () {
  let lib: typeof components;
  let workDir: string;
  const originalCwd = process.cwd();

  before(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource(args) {
          registrations.push({
            type: args.type,
            name: args.name,
            inputs: args.inputs as Record<string, unknown>,
            custom: Boolean(args.custom),
          });
          if (args.type === DYNAMIC_TYPE)
            return { id: "build-id", state: builtState(args.inputs as Record<string, unknown>) };
          if (args.type === "gcp:storage/bucket:Bucket")
            return {
              id: `${args.name}-7f3a9c1`,
              state: { ...(args.inputs as Record<string, unknown>), name: `${args.name}-7f3a9c1` },
            };
          return { id: `${args.name}-id`, state: args.inputs as Record<string, unknown> };
        },
        call(args) {
          throw new Error(`unexpected invoke ${args.token}: the component must not call functions`);
        },
      },
      "infra",
      "dev",
      false,
    );
    pulumi.runtime.setConfig("gcp:project", "stack-project");
    pulumi.runtime.setConfig("gcp:zone", "europe-west4-b");
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), "pci-component-"));
    fs.mkdirSync(path.join(workDir, "image"));
    fs.writeFileSync(path.join(workDir, "image", "setup.sh"), "echo hi > /var/lib/hello\n");
    process.chdir(workDir);
    // Loaded only now, after the mocks are in place (a dynamic import would be an ES module import).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    lib = require("../../components") as typeof components;
  });

  after(() => process.chdir(originalCwd));
  beforeEach(() => registrations.splice(0));

  const minimal = (): components.PreloadedCosImageArgs => ({
    sourceImageFamily: "cos-stable",
    buildContext: "image",
    steps: [{ runScript: { script: "setup.sh" } }],
  });

  it("registers the component, a scratch bucket, the leftover sweeper and the build, in that order", async () => {
    const image = new lib.PreloadedCosImage("web", minimal());
    await unwrap(image.urn);
    await unwrap(image.imageName);
    expect(registrations.map((r) => [r.type, r.name])).to.deep.equal([
      ["preloaded-cos-image:index:PreloadedCosImage", "web"],
      ["gcp:storage/bucket:Bucket", "web-scratch"],
      [SWEEPER_TYPE, "web-leftovers"],
      [DYNAMIC_TYPE, "web"],
    ]);
    // The build depends on the sweeper: created after it, deleted before it (destroy sweeps last).
    const sweeper = registrations.find((r) => r.type === SWEEPER_TYPE);
    expect(sweeper?.inputs).to.deep.include({ project: "stack-project", zone: "europe-west4-b" });
  });

  it("parents every child to the component", async () => {
    const image = new lib.PreloadedCosImage("api", minimal());
    await unwrap(image.imageName);
    await unwrap(image.bucketName);
    const children = registeredUrns().filter(
      (urn) =>
        urn.endsWith("::api-scratch") || (urn.includes("ImageBuild") && urn.endsWith("::api")),
    );
    expect(children).to.have.length(2);
    for (const urn of children)
      expect(urn).to.include("preloaded-cos-image:index:PreloadedCosImage$");
  });

  it("creates the scratch bucket in the build's region with a one-day lifecycle", async () => {
    const image = new lib.PreloadedCosImage("bkt", minimal());
    expect(await unwrap(image.bucketName)).to.equal("bkt-scratch-7f3a9c1");
    const bucket = registrations.find((r) => r.type === "gcp:storage/bucket:Bucket");
    expect(bucket?.inputs).to.deep.include({
      project: "stack-project",
      location: "EUROPE-WEST4",
      uniformBucketLevelAccess: true,
      forceDestroy: true,
      publicAccessPrevention: "enforced",
    });
    expect(bucket?.inputs.lifecycleRules).to.deep.equal([
      { action: { type: "Delete" }, condition: { age: 1 } },
    ]);
  });

  it("uses a given bucket instead of creating one", async () => {
    const image = new lib.PreloadedCosImage("own", {
      ...minimal(),
      bucket: "team-scratch",
      project: "p-123456",
      zone: "us-east1-c",
    });
    expect(await unwrap(image.bucketName)).to.equal("team-scratch");
    await unwrap(image.imageName);
    expect(registrations.map((r) => r.type)).not.to.include("gcp:storage/bucket:Bucket");
    const build = registrations.find((r) => r.type === DYNAMIC_TYPE);
    const args = build?.inputs.args as Record<string, unknown>;
    expect(args).to.deep.include({
      bucket: "team-scratch",
      project: "p-123456",
      zone: "us-east1-c",
    });
  });

  it("passes the arguments, stack defaults and identity to the build", async () => {
    const image = new lib.PreloadedCosImage("web", {
      ...minimal(),
      imageFamily: "web-cos",
      imageLabels: { team: "web" },
    });
    await unwrap(image.imageName);
    const build = registrations.find((r) => r.type === DYNAMIC_TYPE);
    expect(build?.custom).to.equal(true);
    expect(build?.inputs).to.include({ namePrefix: "web", programDir: process.cwd() });
    expect(build?.inputs.ownerId).to.match(/^[0-9a-f]{16}$/);
    expect(build?.inputs.args).to.deep.include({
      sourceImageFamily: "cos-stable",
      buildContext: "image",
      project: "stack-project",
      zone: "europe-west4-b",
      bucket: "web-scratch-7f3a9c1",
      imageFamily: "web-cos",
      imageLabels: { team: "web" },
      steps: [{ runScript: { script: "setup.sh" } }],
    });
  });

  it("gives different components different owners, and the same component the same owner", async () => {
    new lib.PreloadedCosImage("one", minimal());
    new lib.PreloadedCosImage("two", minimal());
    new lib.PreloadedCosImage("one", minimal());
    await new Promise((resolve) => setTimeout(resolve, 50));
    const owners = registrations
      .filter((r) => r.type === DYNAMIC_TYPE)
      .map((r) => r.inputs.ownerId);
    expect(owners).to.have.length(3);
    expect(owners[0]).to.equal(owners[2]);
    expect(owners[0]).not.to.equal(owners[1]);
  });

  it("exposes the build's image as outputs", async () => {
    const image = new lib.PreloadedCosImage("out", {
      ...minimal(),
      imageFamily: "web-cos",
      project: "p-123456",
    });
    expect(await unwrap(image.imageName)).to.equal("out-0123abcd");
    expect(await unwrap(image.imageSelfLink)).to.equal(
      "https://www.googleapis.com/compute/v1/projects/p-123456/global/images/out-0123abcd",
    );
    expect(await unwrap(image.imageId)).to.equal("4242424242");
    expect(await unwrap(image.imageFamily)).to.equal("web-cos");
    expect(await unwrap(image.sourceImage)).to.equal(
      "projects/cos-cloud/global/images/cos-stable-117-18613-164-4",
    );
  });

  it("moves secret material out of the shown arguments", async () => {
    const image = new lib.PreloadedCosImage("sec", {
      ...minimal(),
      steps: [
        { runScript: { script: "setup.sh", env: { TOKEN: pulumi.secret("hunter2"), PLAIN: "x" } } },
        {
          preloadImages: {
            images: ["ghcr.io/o/app:1"],
            credentials: [{ registry: "ghcr.io", username: "me", password: pulumi.secret("pw") }],
          },
        },
      ],
    });
    await unwrap(image.imageName);
    const build = registrations.find((r) => r.type === DYNAMIC_TYPE);
    const shown = JSON.stringify(build?.inputs.args);
    expect(shown).not.to.include("hunter2");
    expect(shown).not.to.include("pw");
    expect(build?.inputs.args).to.deep.include({
      steps: [
        { runScript: { script: "setup.sh", env: { PLAIN: "x" } } },
        { preloadImages: { images: ["ghcr.io/o/app:1"], credentials: [{ registry: "ghcr.io" }] } },
      ],
    });
    // The secrets input reaches the engine wrapped as a secret (Pulumi's secret signature).
    expect(build?.inputs.secrets).to.deep.equal({
      [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig,
      value: {
        env: { "0": { TOKEN: "hunter2" } },
        credentials: { "1": [{ username: "me", password: "pw" }] },
      },
    });
  });

  it("throws before registering anything when the arguments are invalid", () => {
    expect(
      () =>
        new lib.PreloadedCosImage("bad", { ...minimal(), zone: "us-central1", imageFamily: "Web" }),
    ).to.throw(
      lib.InvalidArgumentsError,
      /PreloadedCosImage "bad" has 2 invalid arguments:\n- imageFamily: .*\n- zone: is not a zone/,
    );
    expect(registrations).to.deep.equal([]);
  });

  it("serializes a provider that loads its implementation by package name", async () => {
    const image = new lib.PreloadedCosImage("ser", minimal());
    await unwrap(image.imageName);
    const build = registrations.find((r) => r.type === DYNAMIC_TYPE);
    const text = build?.inputs.__provider;
    expect(text).to.be.a("string");
    expect(text).to.include('"preloaded-cos-image/provider-runtime"');
    expect(text).not.to.match(/node_modules|\/work\/|@google-cloud|@pulumi\/gcp/);
    // Round trip, as the dynamic-provider host does it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const requireFromString = require("require-from-string") as (code: string) => {
      handler(): Record<string, unknown>;
    };
    const provider = requireFromString(text as string).handler();
    for (const method of ["check", "diff", "create", "read", "update", "delete"]) {
      expect(provider[method], method).to.be.a("function");
    }
  });
});
