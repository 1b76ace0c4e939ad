/**
 * Which Debian mirror the guest image is bootstrapped from: the one the host's apt already uses
 * (build machines may only reach that one), unless overridden.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";

/** Environment variable that overrides the mirror, e.g. `http://deb.debian.org/debian`. */
export const APT_MIRROR_ENV = "PRELOADED_COS_IMAGE_APT_MIRROR";

/** Used when neither the environment nor the host's apt configuration names a mirror for the suite. */
export const DEFAULT_APT_MIRROR = "http://deb.debian.org/debian";

/** One `deb` source: a repository URI with its suites and components. */
export interface AptSource {
  /** Repository base URI, e.g. `http://deb.debian.org/debian`. */
  uri: string;
  /** Suites, e.g. `bookworm`, `bookworm-updates`. */
  suites: string[];
  /** Components, e.g. `main`. */
  components: string[];
}

/** Parses one-line-style `sources.list` text (`deb [options] uri suite component...`). */
export function parseOneLineSources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const rawLine of text.split("\n")) {
    const line = rawLine.replace(/#.*/, "").trim();
    // Options in brackets ([arch=amd64 signed-by=...]) do not matter here.
    const words = line
      .replace(/\[[^\]]*\]/, " ")
      .split(/\s+/)
      .filter(Boolean);
    if (words[0] !== "deb" || words.length < 3) continue;
    sources.push({ uri: words[1], suites: [words[2]], components: words.slice(3) });
  }
  return sources;
}

/** Parses deb822-style `.sources` text (stanzas of `Types:`, `URIs:`, `Suites:`, `Components:`). */
export function parseDeb822Sources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string[]>();
    for (const rawLine of stanza.split("\n")) {
      if (rawLine.trimStart().startsWith("#")) continue;
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(rawLine);
      if (match) fields.set(match[1].toLowerCase(), match[2].split(/\s+/).filter(Boolean));
    }
    if (!(fields.get("types") ?? []).includes("deb")) continue;
    if ((fields.get("enabled") ?? ["yes"])[0] === "no") continue;
    for (const uri of fields.get("uris") ?? []) {
      sources.push({
        uri,
        suites: fields.get("suites") ?? [],
        components: fields.get("components") ?? [],
      });
    }
  }
  return sources;
}

/** The first source that serves `suite` with component `main`, as a mirror URI without trailing slash. */
export function pickMirror(sources: readonly AptSource[], suite: string): string | undefined {
  const match = sources.find(
    (source) => source.suites.includes(suite) && source.components.includes("main"),
  );
  return match?.uri.replace(/\/+$/, "");
}

/**
 * The mirror to bootstrap `suite` from: `$PRELOADED_COS_IMAGE_APT_MIRROR`, else the host's apt
 * source for that suite (`/etc/apt/sources.list` and `/etc/apt/sources.list.d/`), else
 * {@link DEFAULT_APT_MIRROR}.
 */
export async function detectAptMirror(suite: string, aptDir = "/etc/apt"): Promise<string> {
  const fromEnvironment = process.env[APT_MIRROR_ENV];
  if (fromEnvironment) return fromEnvironment.replace(/\/+$/, "");
  const sources: AptSource[] = [];
  sources.push(...parseOneLineSources(await readOrEmpty(path.join(aptDir, "sources.list"))));
  const listDir = path.join(aptDir, "sources.list.d");
  const entries = (await fs.readdir(listDir).catch(() => [] as string[])).sort();
  for (const entry of entries) {
    const text = await readOrEmpty(path.join(listDir, entry));
    if (entry.endsWith(".list")) sources.push(...parseOneLineSources(text));
    else if (entry.endsWith(".sources")) sources.push(...parseDeb822Sources(text));
  }
  return pickMirror(sources, suite) ?? DEFAULT_APT_MIRROR;
}

async function readOrEmpty(file: string): Promise<string> {
  return fs.readFile(file, "utf8").catch(() => "");
}
