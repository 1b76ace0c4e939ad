import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROVISIONER_UNIT_NAME } from "../../components/guest/cloudConfig";
import { PROTOCOL_VERSION, REBOOT_EXIT_CODE } from "../../components/guest/protocol";
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

describe("provisioner shell code", function () {
  this.timeout(60_000);

  it("passes shellcheck: every .sh of the provisioner, the test stubs and fixtures", () => {
    const files = [
      ...filesUnder(ASSETS_DIR, (file) => file.endsWith(".sh")),
      ...filesUnder(STUBS_DIR, () => true),
      ...filesUnder(FIXTURES_DIR, (file) => file.endsWith(".sh")),
    ];
    expect(files.length).to.be.greaterThan(20);
    const result = shellcheck(["--external-sources", ...files]);
    expect(result.output).to.equal("");
    expect(result.status).to.equal(0);
  });

  it("passes shellcheck: the start script embedded in the cloud-config", () => {
    const script = writtenFile(
      parsedCloudConfig({ buildId: "b-1" }),
      "/etc/preloaded-cos-image/start.sh",
    );
    const result = shellcheck(["--shell=bash", "-"], script);
    expect(result.output).to.equal("");
    expect(result.status).to.equal(0);
  });

  it("agrees with components/ on the protocol constants and the unit name", () => {
    expect(bashConstant(path.join(ASSETS_DIR, "lib", "protocol.sh"), "PROTOCOL_VERSION")).to.equal(
      String(PROTOCOL_VERSION),
    );
    expect(bashConstant(path.join(ASSETS_DIR, "lib", "protocol.sh"), "REBOOT_EXIT_CODE")).to.equal(
      String(REBOOT_EXIT_CODE),
    );
    expect(bashConstant(path.join(ASSETS_DIR, "lib", "paths.sh"), "UNIT_NAME")).to.equal(
      PROVISIONER_UNIT_NAME,
    );
  });
});
