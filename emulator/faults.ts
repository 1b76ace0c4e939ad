/**
 * Fault injection: API errors at a configured rate per method, and scheduled instance failures
 * (crash, preemption) that fire mid-build.
 */
import { ApiError, backendError, rateLimitExceeded } from "./http/errors";
import { globMatches } from "./glob";
import { seededRandom, type Random } from "./random";

/** Random 429/503 answers for the methods matching a pattern. */
export interface ErrorRateRule {
  /**
   * API method id or glob, e.g. `compute.instances.getSerialPortOutput`, `compute.*.insert`,
   * `storage.objects.*`. The first matching rule applies.
   */
  method: string;
  /** Probability in [0, 1] that a matching request is answered with an error instead. */
  rate: number;
  /**
   * Which error: 429 `rateLimitExceeded`, 503 `backendError`, or `both` (each half the time).
   * Default `both`.
   */
  status?: 429 | 503 | "both";
}

/** What a scheduled fault does to an instance. */
export type InstanceFaultAction =
  /** The instance goes TERMINATED at once, without STOPPING and without an operation (host failure). */
  | "crash"
  /** Spot preemption: STOPPING, a `compute.instances.preempted` operation, then TERMINATED. */
  | "preempt";

/** An instance failure that fires by itself once its trigger is met. */
export interface ScheduledInstanceFault {
  /** What happens. */
  action: InstanceFaultAction;
  /** Instance name or glob (e.g. `pci-build-*`). Every matching instance gets the fault, once. */
  instance: string;
  /** Fire this many milliseconds (scaled by `timeScale`) after the instance first reaches RUNNING. */
  afterRunningMs?: number;
  /**
   * Fire when a line written to serial port `onSerialPort` (default 3) contains this text, e.g.
   * `BuildStatus:` (the first progress line) or a specific step's text.
   */
  whenSerialContains?: string;
  /** Serial port watched by `whenSerialContains`. 1-4, default 3. */
  onSerialPort?: number;
}

/** Picks injected API errors for incoming requests. */
export class FaultInjector {
  private readonly random: Random;
  private rules: ErrorRateRule[];

  /**
   * @param rules Error-rate rules, first match wins. Default none.
   * @param seed Seed of the random draws, so a run with the same requests fails the same ones.
   */
  constructor(rules: ErrorRateRule[] = [], seed = 1) {
    for (const r of rules) validateRule(r);
    this.rules = [...rules];
    this.random = seededRandom(seed);
  }

  /** Replaces the rules (e.g. a benchmark turning faults on after setup). */
  setRules(rules: ErrorRateRule[]): void {
    for (const r of rules) validateRule(r);
    this.rules = [...rules];
  }

  /** The error to answer `method` with, or undefined to serve it normally. */
  pick(method: string): ApiError | undefined {
    const rule = this.rules.find((r) => globMatches(r.method, method));
    if (!rule || rule.rate <= 0) return undefined;
    if (this.random() >= rule.rate) return undefined;
    const status = rule.status ?? "both";
    const use429 = status === 429 || (status === "both" && this.random() < 0.5);
    return use429 ? rateLimitExceeded(method) : backendError();
  }
}

function validateRule(rule: ErrorRateRule): void {
  if (!(rule.rate >= 0 && rule.rate <= 1)) {
    throw new Error(`fault rate for ${rule.method} must be within [0, 1], got ${rule.rate}`);
  }
}
