import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { startEmulator, type Emulator } from "../../emulator";
import { ENGINE_STATE_FILE } from "../../localEngine/engineState";
import { deployLocally } from "../../localEngine/localDeployment";
import { findRepositoryRoot } from "../../localEngine/localRun";
import { STACK_KEYS } from "../../stack/stackKeys";
import { expectNoTemporaries } from "./buildHarness";
import { useLocalRun } from "./localHarness";

/** One `pulumi config set` line of the README. */
interface ConfigLine {
  key: string;
  value: string;
  path: boolean;
  secret: boolean;
}

/** The words of a shell line: single and double quotes, a trailing `# comment` dropped. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  const pattern = /'([^']*)'|"([^"]*)"|(#.*$)|(\S+)/g;
  for (const match of line.matchAll(pattern)) {
    if (match[3] !== undefined) break;
    words.push(match[1] ?? match[2] ?? match[4] ?? "");
  }
  return words;
}

/** The `pulumi config set` lines of the README's "Run it from stack configuration" block. */
function readmeConfigLines(readme: string): ConfigLine[] {
  const section = readme.slice(readme.indexOf("### Run it from stack configuration"));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  return block
    .split("\n")
    .map(shellWords)
    .filter((words) => words.slice(0, 3).join(" ") === "pulumi config set")
    .map((words) => {
      const rest = words.slice(3);
      const flags = rest.filter((word) => word.startsWith("--"));
      const [key = "", value = ""] = rest.filter((word) => !word.startsWith("--"));
      return { key, value, path: flags.includes("--path"), secret: flags.includes("--secret") };
    });
}

/** `a.b[0].c` as Pulumi's `--path` reads it. */
function pathSegments(key: string): Array<string | number> {
  return key.split(".").flatMap((part) => {
    const [name, ...indexes] = part.split("[");
    return [name ?? "", ...indexes.map((index) => Number(index.replace("]", "")))];
  });
}

/** The stack configuration those lines make, as the engine takes it (objects as JSON). */
function stackConfig(lines: ConfigLine[], project: string): Record<string, string> {
  const objects: Record<string, unknown> = {};
  const config: Record<string, string> = {};
  for (const line of lines) {
    const full = line.key.includes(":") ? line.key : `${project}:${line.key}`;
    if (!line.path) {
      config[full] = line.value;
      continue;
    }
    const [top, ...segments] = pathSegments(full);
    let node = (objects[String(top)] ??= {}) as Record<string | number, unknown>;
    segments.forEach((segment, index) => {
      if (index === segments.length - 1) node[segment] = line.value;
      else {
        node[segment] ??= typeof segments[index + 1] === "number" ? [] : {};
        node = node[segment] as Record<string | number, unknown>;
      }
    });
  }
  for (const [key, value] of Object.entries(objects)) config[key] = JSON.stringify(value);
  return config;
}

/**
 * examples/stack-config: the repository's stack program run from a project of its own, with the
 * README's `pulumi config set` lines as its configuration.
 */
describe("examples/stack-config and the README's pulumi config set lines", function () {
  const repositoryRoot = findRepositoryRoot();
  const project = "stack-config-cos";
  const local = useLocalRun("pci-stack-config-");
  let emulator: Emulator;
  let readmeLines: ConfigLine[];

  before(async () => {
    readmeLines = readmeConfigLines(
      await fs.readFile(path.join(repositoryRoot, "README.md"), "utf8"),
    );
  });
  beforeEach(async () => {
    emulator = await startEmulator({ guestShutdownGraceMs: 2_000 });
  });
  afterEach(() => emulator.close());

  it("sets exactly the program's own settings (besides gcp:)", () => {
    const keys = readmeLines
      .filter((line) => !line.key.includes(":"))
      .map((line) => pathSegments(line.key)[0]);
    expect([...new Set(keys)].sort()).to.deep.equal([...STACK_KEYS].sort());
    expect(
      readmeLines.filter((line) => line.key.includes(":")).map((line) => line.key),
    ).to.deep.equal(["gcp:project", "gcp:zone"]);
  });

  it("builds the image those lines describe, the secret env reaching the build and not the state", async () => {
    const projectFile = await fs.readFile(
      path.join(repositoryRoot, "examples", "stack-config", "Pulumi.yaml"),
      "utf8",
    );
    expect(projectFile).to.match(new RegExp(`^name: ${project}$`, "m"));
    const config = stackConfig(readmeLines, project);
    const statePath = path.join(local.workDir, ENGINE_STATE_FILE);
    const result = await deployLocally({
      programDir: path.join(repositoryRoot, "examples", "stack-config"),
      repositoryRoot,
      emulator,
      config,
      write: () => {},
      statePath,
    });

    const component = result.created.find((r) => r.type.endsWith(":PreloadedCosImage"));
    expect(component?.name, "pulumi config set name hello").to.equal("hello");
    const build = result.created.find((r) => r.type.endsWith(":ImageBuild"));
    const args = build?.state?.args as Record<string, unknown>;
    expect(args.sourceImageFamily).to.equal("cos-stable");
    expect(args.buildContext).to.equal("../hello/image");
    expect(args.steps).to.deep.equal([
      { runScript: { script: "hello.sh", env: { GREETING: "hello, world" } } },
    ]);
    // secretEnv.API_TOKEN went to the build as a secret, and nowhere into the stored state.
    expect(JSON.stringify(build?.inputs.secrets)).to.include("API_TOKEN").and.to.include("s3cr3t");
    expect(await fs.readFile(statePath, "utf8")).to.not.include("s3cr3t");
    expect(result.outputs.imageName).to.match(/^hello-/);
    expectNoTemporaries(emulator, [String(result.outputs.imageName)]);
  });
});
