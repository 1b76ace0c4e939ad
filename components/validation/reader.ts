import { isOutputOrPromise } from "../pendingValues";
import type { Problem } from "./problems";

/** What a string rule says when a value breaks it: the problem's message and its fix. */
export interface StringRule {
  /** Completes "<field> ...", e.g. "is not a valid image name". */
  message: string;
  /** What to do instead. */
  fix: string;
}

/** A string that must be one of a fixed list: its test and what is said of any other value. */
export interface OneOfRule {
  /** True for a member of the list. */
  isValid: (value: string) => boolean;
  /** "is not <what>", and the fix that lists every member. */
  rule: StringRule;
}

/**
 * The rule for a string that must be one of `allowed`, for {@link ArgsReader.validString} and
 * {@link ArgsReader.validStrings}; `what` names a member ("a provisioning model").
 */
export function oneOf(allowed: readonly string[], what: string): OneOfRule {
  return {
    isValid: (value) => allowed.includes(value),
    rule: { message: `is not ${what}`, fix: `use one of ${allowed.join(", ")}` },
  };
}

/**
 * The string the Pulumi engine gives dynamic providers for values that are unknown during a preview
 * (`unknownValue` in @pulumi/pulumi's runtime).
 */
export const UNKNOWN_PLACEHOLDER = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/**
 * Reads arguments that may be Pulumi Inputs (plain values, Promises or Outputs) and collects problems.
 *
 * The component validates what is already known when it is constructed, so bad literals fail at
 * preview before anything is registered; the provider's `check` validates again once every Output is
 * resolved. A value that is not known yet reads as `undefined` here, and the rules skip it.
 */
export class ArgsReader {
  /** Problems found so far, in the order the rules ran. */
  readonly problems: Problem[] = [];

  /** Records a problem. */
  report(problem: Problem): void {
    this.problems.push(problem);
  }

  /** True when the argument is given at all (an unresolved Output counts as given). */
  isSet(input: unknown): boolean {
    return input !== undefined && input !== null;
  }

  /**
   * True when the argument is not known yet: an unresolved Output or Promise in the program, or the
   * engine's "unknown" placeholder in the provider's `check` during a preview.
   */
  isPending(input: unknown): boolean {
    return input === UNKNOWN_PLACEHOLDER || isOutputOrPromise(input);
  }

  /** A known string, or undefined (absent, pending, or reported as the wrong type). */
  string(field: string, input: unknown): string | undefined {
    return this.typed(field, input, "string", "a string");
  }

  /**
   * A known string that passes `isValid`, or undefined. A string that fails is reported with `rule`
   * (the problem's message and fix) and its value; absent and pending values are not reported.
   */
  validString(
    field: string,
    input: unknown,
    isValid: (value: string) => boolean,
    rule: StringRule,
  ): string | undefined {
    const value = this.string(field, input);
    if (value === undefined) return undefined;
    if (isValid(value)) return value;
    this.report({ field, value, ...rule });
    return undefined;
  }

  /** The known elements of a list of strings that pass `isValid`; each that fails is reported with `rule`. */
  validStrings(
    field: string,
    input: unknown,
    isValid: (value: string) => boolean,
    rule: StringRule,
  ): string[] | undefined {
    const values = this.stringArray(field, input);
    if (values === undefined) return undefined;
    this.reportInvalid(field, values, isValid, rule);
    return values.filter(isValid);
  }

  /**
   * Reports each of `values` that fails `isValid` with `rule` and its value, for a list that other
   * rules also check as a whole (its length); undefined values are skipped like absent ones.
   */
  reportInvalid(
    field: string,
    values: readonly string[] | undefined,
    isValid: (value: string) => boolean,
    rule: StringRule,
  ): void {
    for (const value of values ?? []) if (!isValid(value)) this.report({ field, value, ...rule });
  }

  /** A known finite number, or undefined. */
  number(field: string, input: unknown): number | undefined {
    const value = this.typed<number>(field, input, "number", "a number");
    if (value !== undefined && !Number.isFinite(value)) {
      this.report({ field, value, message: "is not a finite number", fix: "give a number" });
      return undefined;
    }
    return value;
  }

  /** A known whole number within `[min, max]`, or undefined. */
  integer(field: string, input: unknown, min: number, max: number, unit = ""): number | undefined {
    const value = this.number(field, input);
    if (value === undefined) return undefined;
    if (!Number.isInteger(value) || value < min || value > max) {
      this.report({
        field,
        value,
        message: `must be a whole number from ${min} to ${max}${unit}`,
        fix: `use a whole number between ${min} and ${max}`,
      });
      return undefined;
    }
    return value;
  }

  /** A known boolean, or undefined. */
  boolean(field: string, input: unknown): boolean | undefined {
    return this.typed(field, input, "boolean", "true or false");
  }

  /** The known elements of an array of strings (pending elements are skipped), or undefined. */
  stringArray(field: string, input: unknown): string[] | undefined {
    if (!this.isSet(input) || this.isPending(input)) return undefined;
    if (!Array.isArray(input)) {
      this.report({
        field,
        message: "must be a list of strings",
        fix: "give an array of strings",
        value: input,
      });
      return undefined;
    }
    const values: string[] = [];
    input.forEach((element, index) => {
      const value = this.string(`${field}[${index}]`, element);
      if (value !== undefined) values.push(value);
    });
    return values;
  }

  /**
   * The known entries of a string-valued record (pending values are skipped), or undefined.
   * `secret` keeps values out of messages.
   */
  stringRecord(
    field: string,
    input: unknown,
    secret = false,
  ): Map<string, string | undefined> | undefined {
    if (!this.isSet(input) || this.isPending(input)) return undefined;
    if (typeof input !== "object" || Array.isArray(input)) {
      this.report({
        field,
        message: "must be a map of names to strings",
        fix: 'give an object such as { KEY: "value" }',
        value: secret ? undefined : input,
      });
      return undefined;
    }
    const entries = new Map<string, string | undefined>();
    for (const [key, element] of Object.entries(input as Record<string, unknown>)) {
      if (this.isPending(element)) {
        entries.set(key, undefined);
        continue;
      }
      if (typeof element !== "string") {
        this.report({
          field: `${field}.${key}`,
          message: "must be a string",
          fix: "quote the value (numbers and booleans must be given as strings)",
          value: secret ? undefined : element,
        });
        continue;
      }
      entries.set(key, element);
    }
    return entries;
  }

  private typed<T>(field: string, input: unknown, type: string, described: string): T | undefined {
    if (!this.isSet(input) || this.isPending(input)) return undefined;
    if (typeof input !== type) {
      this.report({
        field,
        value: input,
        message: `must be ${described}`,
        fix: `give ${described}`,
      });
      return undefined;
    }
    return input as T;
  }
}
