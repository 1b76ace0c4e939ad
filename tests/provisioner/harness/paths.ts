import * as path from "node:path";

/** The repository root (tests run compiled, from `dist/tests/provisioner/harness`). */
export const REPO_ROOT = path.resolve(__dirname, "..", "..", "..", "..");

/** The provisioner's sources, as shipped to CIDATA. */
export const ASSETS_DIR = path.join(REPO_ROOT, "provisioner-assets");

/** Stand-ins for COS commands, put first on PATH. */
export const STUBS_DIR = path.join(REPO_ROOT, "tests", "provisioner", "stubs");

/** Bash helpers used by the tests only. */
export const FIXTURES_DIR = path.join(REPO_ROOT, "tests", "provisioner", "fixtures");
