import { nearestKey } from "../validation";
import { UsageError } from "./errors";

/**
 * Flag parsing, strict like the configuration: an unknown flag is an error naming the nearest one.
 * Flags take `--flag value` or `--flag=value`; there are no positional arguments besides the
 * subcommand.
 */

/** One flag of a subcommand. */
export interface FlagSpec {
  /** Name without the dashes: `config`. */
  name: string;
  /** Placeholder of its value (`<file>`); absent for a switch such as `--dry-run`. */
  value?: string;
  /** May be given more than once (`--set`). */
  repeatable?: boolean;
  /** One line for `--help`. */
  description: string;
}

/** A subcommand's flags, and its usage line for errors. */
export interface CommandLineSpec {
  usage: string;
  flags: readonly FlagSpec[];
}

/** Parsed flags: values by flag name (repeated flags keep every value), switches as "true". */
export class ParsedFlags {
  constructor(private readonly values: ReadonlyMap<string, readonly string[]>) {}

  /** The flag's last value, or undefined when not given. */
  get(name: string): string | undefined {
    return this.values.get(name)?.at(-1);
  }

  /** Every value of a repeatable flag, in order. */
  all(name: string): readonly string[] {
    return this.values.get(name) ?? [];
  }

  /** True when a switch (or any flag) was given. */
  has(name: string): boolean {
    return this.values.has(name);
  }
}

/** Parses `argv` (after the subcommand) against `spec`; `--help` is always accepted. */
export function parseFlags(argv: readonly string[], spec: CommandLineSpec): ParsedFlags {
  const values = new Map<string, string[]>();
  const known = [...spec.flags.map((f) => f.name), "help"];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--") || arg === "--") {
      throw new UsageError(`unexpected argument "${arg}" (flags start with --)`, spec.usage);
    }
    const [name, inline] = splitFlag(arg.slice(2));
    const flag =
      name === "help" ? { name, description: "" } : spec.flags.find((f) => f.name === name);
    if (!flag) {
      const nearest = nearestKey(name, known);
      const hint = nearest ? ` (did you mean --${nearest}?)` : "";
      throw new UsageError(`unknown flag --${name}${hint}`, spec.usage);
    }
    let value = "true";
    if ("value" in flag && flag.value !== undefined) {
      const next = inline ?? argv[i + 1];
      if (next === undefined || (inline === undefined && next.startsWith("--"))) {
        throw new UsageError(`--${name} needs a value ${flag.value}`, spec.usage);
      }
      if (inline === undefined) i++;
      value = next;
    } else if (inline !== undefined) {
      throw new UsageError(`--${name} takes no value`, spec.usage);
    }
    const seen = values.get(name) ?? [];
    if (seen.length > 0 && !("repeatable" in flag && flag.repeatable)) {
      throw new UsageError(`--${name} is given twice`, spec.usage);
    }
    values.set(name, [...seen, value]);
  }
  return new ParsedFlags(values);
}

function splitFlag(text: string): [string, string | undefined] {
  const at = text.indexOf("=");
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}
