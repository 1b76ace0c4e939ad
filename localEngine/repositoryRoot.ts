/** Where this repository is, wherever its compiled code runs from (dist/ or a test's copy). */
import * as path from "node:path";

/** The repository root: the nearest directory above this file whose package.json is this package. */
export function findRepositoryRoot(): string {
  let directory = __dirname;
  for (;;) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const manifest = require(path.join(directory, "package.json")) as { name?: string };
      if (manifest.name === "preloaded-cos-image") return directory;
    } catch {
      // no package.json here
    }
    const parent = path.dirname(directory);
    if (parent === directory)
      throw new Error(`cannot find the preloaded-cos-image repository above ${__dirname}`);
    directory = parent;
  }
}
