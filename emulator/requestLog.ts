/** A record of every API request the emulator answered, for tests and benchmarks that count calls. */
import { globMatches } from "./glob";

/** One answered request. */
export interface RequestLogEntry {
  /** API method id, e.g. `compute.instances.getSerialPortOutput`; `unknown` when no route matched. */
  method: string;
  /** HTTP method. */
  httpMethod: string;
  /** Request path without the query string. */
  path: string;
  /** HTTP status sent. */
  status: number;
  /** When the request arrived, epoch milliseconds (fractional). */
  startedAt: number;
  /** Time to answer, milliseconds. */
  durationMs: number;
  /** True when the answer was an error injected by the fault model. */
  injectedFault: boolean;
}

/** The request log with per-method counters. */
export class RequestLog {
  private readonly log: RequestLogEntry[] = [];

  /** Appends an entry (called by the HTTP layer). */
  record(entry: RequestLogEntry): void {
    this.log.push(entry);
  }

  /** Every entry so far, oldest first. */
  entries(): readonly RequestLogEntry[] {
    return this.log;
  }

  /**
   * How many requests matched a method pattern (glob on the method id, `*` matching any run of
   * characters), optionally only those answered with a given status. No pattern counts everything.
   */
  count(methodPattern = "*", status?: number): number {
    return this.log.filter(
      (e) => globMatches(methodPattern, e.method) && (status === undefined || e.status === status),
    ).length;
  }

  /** Request counts keyed by method id. */
  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const e of this.log) counts[e.method] = (counts[e.method] ?? 0) + 1;
    return counts;
  }

  /** Forgets every entry (e.g. between benchmark phases). */
  clear(): void {
    this.log.length = 0;
  }
}
