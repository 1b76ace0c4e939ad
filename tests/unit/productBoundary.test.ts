import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { expect } from "chai";

/**
 * The lint rule that keeps the product off its test doubles: the same rule object the repository's
 * ESLint config uses, run on deliberate imports as if they stood in components/.
 */
const ROOT = path.resolve(__dirname, "..", "..", "..");

type LintMessage = { ruleId: string | null; message: string };

async function lintAs(relativeFile: string, code: string): Promise<LintMessage[]> {
  const { ESLint } = (await import("eslint")) as typeof import("eslint");
  const tseslint = (await import("typescript-eslint")) as unknown as {
    default: { parser: unknown };
  };
  const { productBoundary } = (await import(
    pathToFileURL(path.join(ROOT, "eslint.boundaries.mjs")).href
  )) as { productBoundary: object };
  const eslint = new ESLint({
    cwd: ROOT,
    overrideConfigFile: true,
    overrideConfig: [
      { files: ["**/*.ts"], languageOptions: { parser: tseslint.default.parser as never } },
      productBoundary,
    ],
  });
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, relativeFile) });
  return result.messages;
}

describe("the line between product and test doubles (lint)", () => {
  for (const target of [
    "../emulator",
    "../../emulator/guests/scriptedGuest",
    "../localEngine/localRun",
    "../../tests/support/buildInputs",
    "../bench/build",
  ]) {
    it(`fails an import of ${target} from components/`, async () => {
      const messages = await lintAs(
        "components/pipeline/probe.ts",
        `import { x } from "${target}";\nexport const y = x;\n`,
      );
      expect(messages.map((m) => m.ruleId)).to.deep.equal(["no-restricted-imports"]);
      expect(messages[0].message).to.contain("components/ is the product");
    });
  }

  it("lets components/ import its own modules, and lets the emulator import the product", async () => {
    expect(
      await lintAs(
        "components/pipeline/probe.ts",
        `import { x } from "../google/names";\nexport const y = x;\n`,
      ),
    ).to.deep.equal([]);
    expect(
      await lintAs(
        "emulator/probe.ts",
        `import { x } from "../components/guest/protocol";\nexport const y = x;\n`,
      ),
    ).to.deep.equal([]);
  });
});
