import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { APT_MIRROR_ENV, DEFAULT_APT_MIRROR } from "../../../emulator/qemu/aptMirror";
import { detectAptMirror, pickMirror } from "../../../emulator/qemu/aptMirror";
import { parseDeb822Sources, parseOneLineSources } from "../../../emulator/qemu/aptMirror";

describe("aptMirror", () => {
  it("parses one-line sources, ignoring comments, deb-src and options", () => {
    const sources = parseOneLineSources(
      [
        "# deb http://old.example/debian bookworm main",
        "deb-src http://src.example/debian bookworm main",
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main contrib",
        "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main",
      ].join("\n"),
    );
    expect(sources).to.deep.equal([
      {
        uri: "http://mirror.example/debian/",
        suites: ["bookworm"],
        components: ["main", "contrib"],
      },
      {
        uri: "https://packages.cloud.google.com/apt",
        suites: ["cloud-sdk-bookworm"],
        components: ["main"],
      },
    ]);
  });

  it("parses deb822 stanzas, skipping disabled ones and deb-src", () => {
    const sources = parseDeb822Sources(
      [
        "Types: deb",
        "# http://snapshot.example/archive/debian/20250520T000000Z",
        "URIs: http://deb.example/debian",
        "Suites: bookworm bookworm-updates",
        "Components: main",
        "",
        "Types: deb",
        "URIs: http://off.example/debian",
        "Suites: bookworm",
        "Components: main",
        "Enabled: no",
        "",
        "Types: deb-src",
        "URIs: http://src.example/debian",
        "Suites: bookworm",
        "Components: main",
      ].join("\n"),
    );
    expect(sources).to.deep.equal([
      {
        uri: "http://deb.example/debian",
        suites: ["bookworm", "bookworm-updates"],
        components: ["main"],
      },
    ]);
  });

  it("picks the first source serving the suite's main component, without a trailing slash", () => {
    const sources = [
      {
        uri: "http://security.example/debian-security",
        suites: ["bookworm-security"],
        components: ["main"],
      },
      { uri: "http://mirror.example/debian/", suites: ["bookworm"], components: ["main"] },
    ];
    expect(pickMirror(sources, "bookworm")).to.equal("http://mirror.example/debian");
    expect(pickMirror(sources, "trixie")).to.equal(undefined);
  });

  describe("detectAptMirror", () => {
    let aptDir: string;
    const saved = process.env[APT_MIRROR_ENV];
    beforeEach(async () => {
      aptDir = await fs.mkdtemp(path.join(os.tmpdir(), "pci-apt-"));
      delete process.env[APT_MIRROR_ENV];
    });
    afterEach(async () => {
      await fs.rm(aptDir, { recursive: true, force: true });
      if (saved === undefined) delete process.env[APT_MIRROR_ENV];
      else process.env[APT_MIRROR_ENV] = saved;
    });

    it("reads sources.list.d, falls back to the default, and lets the environment win", async () => {
      expect(await detectAptMirror("bookworm", aptDir)).to.equal(DEFAULT_APT_MIRROR);
      await fs.mkdir(path.join(aptDir, "sources.list.d"));
      await fs.writeFile(
        path.join(aptDir, "sources.list.d", "debian.sources"),
        "Types: deb\nURIs: http://local.example/debian\nSuites: bookworm\nComponents: main\n",
      );
      expect(await detectAptMirror("bookworm", aptDir)).to.equal("http://local.example/debian");
      process.env[APT_MIRROR_ENV] = "http://override.example/debian/";
      expect(await detectAptMirror("bookworm", aptDir)).to.equal("http://override.example/debian");
    });
  });
});
