import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROVISIONER_UNIT_NAME, START_SCRIPT_FILE } from "../../components/guest/cloudConfig";
import {
  DISK_RESIZED_METADATA_KEY,
  MARKERS,
  PROTOCOL_VERSION,
  REBOOT_EXIT_CODE,
} from "../../components/guest/protocol";
import { parsedCloudConfig, writtenFile } from "./harness/cloudConfigYaml";
import { ASSETS_DIR, FIXTURES_DIR, STUBS_DIR } from "./harness/paths";

/** Files under `dir` (recursively) accepted by `keep`. */
function filesUnder(dir: string, keep: (file: string) => boolean): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((relative) => path.join(dir, relative))
    .filter((file) => fs.statSync(file).isFile() && keep(file));
}

function shellcheck(args: string[], input?: string): { status: number | null; output: string } {
  const result = spawnSync("shellcheck", args, { encoding: "utf8", input });
  if (result.error) throw result.error;
  return { status: result.status, output: result.stdout + result.stderr };
}

/** The value a bash file assigns to a readonly constant. */
function bashConstant(file: string, name: string): string {
  const match = new RegExp(`^readonly ${name}="?([^"\\n]*)"?$`, "m").exec(
    fs.readFileSync(file, "utf8"),
  );
  if (!match) throw new Error(`${file} defines no ${name}`);
  return match[1];
}

/** The variable of lib/protocol.sh that holds each of {@link MARKERS}. */
const MARKER_VARIABLES: Record<keyof typeof MARKERS, string> = {
  protocol: "MARKER_PROTOCOL",
  status: "MARKER_STATUS",
  succeeded: "MARKER_SUCCEEDED",
  failed: "MARKER_FAILED",
  diskResize: "MARKER_DISK_RESIZE",
};

describe("provisioner shell code", function () {
  this.timeout(60_000);

  it("passes shellcheck: every .sh of the provisioner, the test stubs and fixtures", () => {
    // The start script is a template: the next test checks it as rendered.
    const startScript = path.join(ASSETS_DIR, START_SCRIPT_FILE);
    const files = [
      ...filesUnder(ASSETS_DIR, (file) => file.endsWith(".sh") && file !== startScript),
      ...filesUnder(STUBS_DIR, () => true),
      ...filesUnder(FIXTURES_DIR, (file) => file.endsWith(".sh")),
    ];
    expect(files.length).to.be.greaterThan(20);
    const result = shellcheck(["--external-sources", ...files]);
    expect(result.output).to.equal("");
    expect(result.status).to.equal(0);
  });

  it("passes shellcheck: the start script (start.sh), as embedded in the cloud-config", () => {
    const script = writtenFile(
      parsedCloudConfig({ buildId: "b-1" }),
      "/etc/preloaded-cos-image/start.sh",
    );
    const result = shellcheck(["--shell=bash", "-"], script);
    expect(result.output).to.equal("");
    expect(result.status).to.equal(0);
  });

  it("agrees with components/ on the protocol constants, the markers, the metadata keys and the unit name", () => {
    const protocolFile = path.join(ASSETS_DIR, "lib", "protocol.sh");
    expect(bashConstant(protocolFile, "PROTOCOL_VERSION")).to.equal(String(PROTOCOL_VERSION));
    expect(bashConstant(protocolFile, "REBOOT_EXIT_CODE")).to.equal(String(REBOOT_EXIT_CODE));
    expect(bashConstant(path.join(ASSETS_DIR, "lib", "paths.sh"), "UNIT_NAME")).to.equal(
      PROVISIONER_UNIT_NAME,
    );
    const resizeFile = path.join(ASSETS_DIR, "steps", "disk-layout", "disk-resize.sh");
    expect(bashConstant(resizeFile, "DISK_RESIZED_METADATA_KEY")).to.equal(
      DISK_RESIZED_METADATA_KEY,
    );
    for (const [key, name] of Object.entries(MARKER_VARIABLES)) {
      expect(bashConstant(protocolFile, name), name).to.equal(MARKERS[key as keyof typeof MARKERS]);
    }
    const defined = fs.readFileSync(protocolFile, "utf8").match(/^readonly MARKER_\w+/gm) ?? [];
    expect(defined.map((line) => line.slice("readonly ".length))).to.have.members(
      Object.values(MARKER_VARIABLES),
    );
    // The markers are spelled out in lib/protocol.sh only: other code uses its variables (the start
    // script, which runs before CIDATA is there, placeholders); comments may name them.
    const markerText = new RegExp(Object.values(MARKERS).join("|"));
    const hardCoded = filesUnder(ASSETS_DIR, (file) => file !== protocolFile).flatMap((file) =>
      fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => !line.trimStart().startsWith("#") && markerText.test(line))
        .map((line) => `${path.relative(ASSETS_DIR, file)}: ${line.trim()}`),
    );
    expect(hardCoded).to.deep.equal([]);
  });
});
