import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { PreloadedCosImageArgs } from "../../components/args";
import { formatProblem, validateArgs } from "../../components/validation";
import { ARG_KEYS } from "../../components/validation/keys";
import { editDistance, nearestKey } from "../../components/validation/suggest";
import { MINIMAL_ARGS } from "../support/minimalArgs";

/** Strict configuration: a misspelt key is an error naming it and the nearest valid key. */
describe("strict keys: unknown arguments are errors with a suggestion", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "pci-strict-"));
  fs.mkdirSync(path.join(root, "context"));
  fs.writeFileSync(path.join(root, "context", "setup.sh"), "echo hi\n");
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  const base: PreloadedCosImageArgs = MINIMAL_ARGS;
  const problemsOf = (args: object): string[] =>
    validateArgs(args as PreloadedCosImageArgs, { baseDir: root }).map(formatProblem);

  /** `count`: problems expected (1 unless said); the first one is the one checked. */
  const cases: Array<{ name: string; args: object; expect: string[]; count?: number }> = [
    {
      name: "a typo of a top-level argument",
      args: { ...base, sourceImageFamily: undefined, sourceImageFamly: "cos-stable" },
      expect: [
        "- sourceImageFamly: is not an argument of PreloadedCosImage. Fix: did you mean sourceImageFamily?",
      ],
      // The typo comes first, then what it explains: no source image.
      count: 2,
    },
    {
      name: "a case mistake",
      args: { ...base, DiskSizeGb: 20 },
      expect: ["- DiskSizeGb: is not an argument", "did you mean diskSizeGb?"],
    },
    {
      name: "two swapped letters",
      args: { ...base, buildContxet: "context" },
      expect: ["- buildContxet: is not an argument", "did you mean buildContext?"],
    },
    {
      name: "a key far from every argument",
      args: { ...base, colour: "blue" },
      expect: [
        "- colour: is not an argument",
        "remove it, or use one of the arguments: sourceImage",
      ],
    },
    {
      name: "a typo inside apiEndpoints",
      args: { ...base, apiEndpoints: { compte: "http://127.0.0.1:1" } },
      expect: ["- apiEndpoints.compte: is not an API endpoint", "did you mean compute?"],
    },
    {
      name: "a typo of a step kind",
      args: { ...base, steps: [{ runScrpt: { script: "setup.sh" } }] },
      expect: [
        '- steps[0]: has unknown step kinds (got ["runScrpt"])',
        "runScrpt: did you mean runScript?",
      ],
    },
    {
      name: "a typo of a step option",
      args: { ...base, steps: [{ runScript: { script: "setup.sh", evn: { A: "b" } } }] },
      expect: ["- steps[0].runScript.evn: is not an option of this step", "did you mean env?"],
    },
    {
      name: "a typo in a registry credential",
      args: {
        ...base,
        steps: [
          {
            preloadImages: {
              images: ["nginx:1.27"],
              credentials: [{ registry: "ghcr.io", username: "u", password: "p", pasword: "p" }],
            },
          },
        ],
      },
      expect: [
        "- steps[0].preloadImages.credentials[0].pasword: is not a field of a registry credential",
        "did you mean password?",
      ],
    },
    {
      name: "a string where a number belongs",
      args: { ...base, diskSizeGb: "20" },
      expect: ['- diskSizeGb: must be a number (got "20"). Fix: give a number'],
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const problems = problemsOf(c.args);
      expect(problems, problems.join("\n")).to.have.length(c.count ?? 1);
      for (const fragment of c.expect) expect(problems[0]).to.include(fragment);
    });
  }

  it("lists each top-level argument once, and accepts each of them", () => {
    expect(new Set(ARG_KEYS).size).to.equal(ARG_KEYS.length);
    const unknown = problemsOf(base).filter((p) => p.includes("is not an argument"));
    expect(unknown).to.deep.equal([]);
  });

  it("ignores keys whose value is undefined (object spreads write them)", () => {
    expect(problemsOf({ ...base, somethingElse: undefined })).to.deep.equal([]);
  });

  it("measures edit distance with a swap counting once", () => {
    expect(editDistance("kitten", "sitting")).to.equal(3);
    expect(editDistance("ab", "ba")).to.equal(1);
    expect(nearestKey("zoen", ARG_KEYS)).to.equal("zone");
    expect(nearestKey("xyzzy", ARG_KEYS)).to.equal(undefined);
  });
});
