/**
 * GCE list filters (`filter=` on `*.list`): comparisons of a (dotted) field with a value, joined by
 * `AND` / `OR` / juxtaposition (AND), grouped with parentheses and negated with `NOT` or `-`.
 *
 * Supported comparisons:
 * - `field = "v"` / `field != "v"`: string equality; `*` in the value is a wildcard.
 * - `field eq regex` / `field ne regex`: full-match regular expression (GCE's legacy form).
 * - `field < v`, `<=`, `>`, `>=`: numeric when both sides are numbers, else string order
 *   (RFC 3339 timestamps compare correctly as strings).
 * - `field:*`: the field is present; `field:v`: equals `v` (or contains it, for lists).
 */
import { invalid } from "../http/errors";

/** A compiled filter: true when a resource (its API JSON) matches. */
export type ResourcePredicate = (resource: Record<string, unknown>) => boolean;

type Token =
  | { kind: "lparen" | "rparen" | "and" | "or" | "not" }
  | { kind: "word"; text: string }
  | { kind: "string"; text: string }
  | { kind: "op"; text: string };

const OPERATORS = ["!=", ">=", "<=", "=", "<", ">", ":"];

function tokenize(filter: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < filter.length) {
    const ch = filter[i];
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === "(") {
      tokens.push({ kind: "lparen" });
      i++;
    } else if (ch === ")") {
      tokens.push({ kind: "rparen" });
      i++;
    } else if (ch === '"' || ch === "'") {
      let j = i + 1;
      let text = "";
      while (j < filter.length && filter[j] !== ch) {
        if (filter[j] === "\\" && j + 1 < filter.length) j++;
        text += filter[j];
        j++;
      }
      if (j >= filter.length)
        throw invalid(`Invalid list filter expression: unterminated string in '${filter}'`);
      tokens.push({ kind: "string", text });
      i = j + 1;
    } else {
      const op = OPERATORS.find((o) => filter.startsWith(o, i));
      if (op) {
        tokens.push({ kind: "op", text: op });
        i += op.length;
        continue;
      }
      let j = i;
      while (j < filter.length && !/[\s()=!<>:"']/.test(filter[j])) j++;
      if (j === i)
        throw invalid(`Invalid list filter expression: unexpected '${ch}' in '${filter}'`);
      const word = filter.slice(i, j);
      const upper = word.toUpperCase();
      if (word === "AND") tokens.push({ kind: "and" });
      else if (word === "OR") tokens.push({ kind: "or" });
      else if (word === "NOT") tokens.push({ kind: "not" });
      else if (upper === "EQ" || upper === "NE") {
        // `eq` / `ne` are operators only between a field and a value.
        const prev = tokens[tokens.length - 1];
        if (prev?.kind === "word") tokens.push({ kind: "op", text: word.toLowerCase() });
        else tokens.push({ kind: "word", text: word });
      } else tokens.push({ kind: "word", text: word });
      i = j;
    }
  }
  return tokens;
}

/** Compiles a filter; an empty or absent filter matches everything. Throws 400 on syntax errors. */
export function compileFilter(filter: string | undefined | null): ResourcePredicate {
  if (!filter || filter.trim() === "") return () => true;
  const tokens = tokenize(filter);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const fail = (why: string): never => {
    throw invalid(`Invalid list filter expression '${filter}': ${why}`);
  };

  const parseOr = (): ResourcePredicate => {
    let left = parseAnd();
    while (peek()?.kind === "or") {
      pos++;
      const right = parseAnd();
      const l = left;
      left = (r) => l(r) || right(r);
    }
    return left;
  };
  const parseAnd = (): ResourcePredicate => {
    let left = parseUnary();
    for (;;) {
      const next = peek();
      if (next === undefined || next.kind === "rparen" || next.kind === "or") return left;
      if (next.kind === "and") pos++;
      const right = parseUnary();
      const l = left;
      left = (r) => l(r) && right(r);
    }
  };
  const parseUnary = (): ResourcePredicate => {
    const next = peek();
    if (next?.kind === "not") {
      pos++;
      const inner = parseUnary();
      return (r) => !inner(r);
    }
    if (next?.kind === "word" && next.text.startsWith("-") && next.text.length > 1) {
      next.text = next.text.slice(1);
      const inner = parseUnary();
      return (r) => !inner(r);
    }
    if (next?.kind === "lparen") {
      pos++;
      const inner = parseOr();
      if (peek()?.kind !== "rparen") fail("missing ')'");
      pos++;
      return inner;
    }
    return parseComparison();
  };
  const parseComparison = (): ResourcePredicate => {
    const field = tokens[pos++];
    if (field?.kind !== "word") return fail("expected a field name");
    const op = tokens[pos++];
    if (op?.kind !== "op") return fail(`expected an operator after '${field.text}'`);
    const value = tokens[pos++];
    if (value?.kind !== "word" && value?.kind !== "string")
      return fail(`expected a value after '${op.text}'`);
    return comparison(field.text, op.text, value.text);
  };

  const predicate = parseOr();
  if (pos !== tokens.length) fail("unexpected trailing tokens");
  return predicate;
}

function comparison(field: string, op: string, value: string): ResourcePredicate {
  const path = field.split(".");
  switch (op) {
    case "=":
      return (r) => anyValue(lookup(r, path), (v) => wildcardEquals(value, v));
    case "!=":
      return (r) => !anyValue(lookup(r, path), (v) => wildcardEquals(value, v));
    case "eq":
    case "ne": {
      let regex: RegExp;
      try {
        regex = new RegExp(`^(?:${value})$`);
      } catch {
        throw invalid(`Invalid regular expression '${value}' in list filter`);
      }
      const matches = (r: Record<string, unknown>): boolean =>
        anyValue(lookup(r, path), (v) => regex.test(v));
      return op === "eq" ? matches : (r) => !matches(r);
    }
    case ":":
      if (value === "*") return (r) => lookup(r, path) !== undefined;
      return (r) => anyValue(lookup(r, path), (v) => wildcardEquals(value, v));
    default:
      return (r) => anyValue(lookup(r, path), (v) => compareOrdered(v, value, op));
  }
}

function lookup(resource: unknown, path: string[]): unknown {
  let current: unknown = resource;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function anyValue(value: unknown, test: (v: string) => boolean): boolean {
  if (value === undefined || value === null) return false;
  if (Array.isArray(value)) return value.some((v) => anyValue(v, test));
  if (typeof value === "string") return test(value);
  if (typeof value === "number" || typeof value === "boolean") return test(String(value));
  return false;
}

function wildcardEquals(pattern: string, value: string): boolean {
  if (!pattern.includes("*")) return pattern === value;
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`).test(value);
}

function compareOrdered(actual: string, expected: string, op: string): boolean {
  const a = Number(actual);
  const b = Number(expected);
  const numeric = actual.trim() !== "" && expected.trim() !== "" && !isNaN(a) && !isNaN(b);
  const cmp = numeric ? a - b : actual < expected ? -1 : actual > expected ? 1 : 0;
  switch (op) {
    case "<":
      return cmp < 0;
    case "<=":
      return cmp <= 0;
    case ">":
      return cmp > 0;
    default:
      return cmp >= 0;
  }
}
