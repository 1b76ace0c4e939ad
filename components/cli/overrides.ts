import YAML from "yaml";
import type { Problem } from "../validation";

/**
 * `--set <path>=<value>`: one value of the configuration replaced or added. Paths are dotted, with
 * indices (`steps[0].runScript.script`); values are YAML scalars, so `diskSizeGb=20` is a number and
 * `externalIp=false` a boolean, and quoting (`imageName='"123"'`) keeps a string.
 */

type Segment = string | number;

/** Applies one `--set` to `data`; returns the problem instead when it is malformed. */
export function applySet(data: Record<string, unknown>, set: string): Problem | undefined {
  const at = set.indexOf("=");
  const segments = at > 0 ? parsePath(set.slice(0, at)) : undefined;
  if (!segments) {
    return {
      field: "--set",
      value: set,
      message: "is not <path>=<value>",
      fix: "write a dotted path, an equals sign and the value, e.g. --set steps[0].runScript.script=setup.sh",
    };
  }
  const value = parseScalar(set.slice(at + 1));
  let target: unknown = data;
  for (let i = 0; i < segments.length - 1; i++) {
    const container = target as Record<Segment, unknown>;
    const next = container[segments[i]];
    if (next === undefined || next === null) {
      container[segments[i]] = typeof segments[i + 1] === "number" ? [] : {};
    } else if (typeof next !== "object") {
      return {
        field: "--set",
        value: set,
        message: `cannot set inside ${formatPath(segments.slice(0, i + 1))}, which holds a ${typeof next}`,
        fix: "set the value itself, or correct the path",
      };
    }
    target = container[segments[i]];
  }
  (target as Record<Segment, unknown>)[segments[segments.length - 1]] = value;
  return undefined;
}

/** `a.b[0].c` → ["a", "b", 0, "c"]; undefined when malformed. */
function parsePath(text: string): Segment[] | undefined {
  const pattern = /^(?:\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\])/;
  const segments: Segment[] = [];
  let rest = text;
  while (rest !== "") {
    const m = pattern.exec(rest);
    if (!m || (segments.length === 0 && (m[2] !== undefined || rest.startsWith(".")))) {
      return undefined;
    }
    segments.push(m[1] ?? Number(m[2]));
    rest = rest.slice(m[0].length);
  }
  return segments.length > 0 ? segments : undefined;
}

function formatPath(segments: readonly Segment[]): string {
  return segments
    .map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? s : `.${s}`))
    .join("");
}

/** A YAML scalar (number, boolean, null, quoted or plain string); anything else stays text. */
function parseScalar(text: string): unknown {
  try {
    const value: unknown = YAML.parse(text);
    return value !== null && typeof value === "object" ? text : value;
  } catch {
    return text;
  }
}
