/**
 * An instance's metadata (`metadata.items` with its fingerprint). Changes are published so that
 * the metadata server's `wait_for_change` requests and simulated guests wake up.
 */
import { EventEmitter } from "node:events";
import { newFingerprint } from "./ids";

/** The instance metadata: items plus the fingerprint that guards updates. */
export class InstanceMetadata {
  private items: Map<string, string>;
  /** Current fingerprint; changes with every update. */
  fingerprint = newFingerprint();
  private readonly events = new EventEmitter();

  constructor(initial: Map<string, string> = new Map()) {
    this.items = new Map(initial);
    this.events.setMaxListeners(0);
  }

  /** The value of `key`, or undefined. */
  get(key: string): string | undefined {
    return this.items.get(key);
  }

  /** A copy of all items. */
  entries(): Record<string, string> {
    return Object.fromEntries(this.items);
  }

  /** Replaces all items (setMetadata is a whole-set replacement) and publishes the change. */
  replace(items: Map<string, string>): void {
    this.items = new Map(items);
    this.fingerprint = newFingerprint();
    this.events.emit("change");
  }

  /** Calls `listener` after every change; returns an unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.events.on("change", listener);
    return () => this.events.off("change", listener);
  }

  /** The API representation (`compute#metadata`). */
  toJSON(): Record<string, unknown> {
    const items = [...this.items].map(([key, value]) => ({ key, value }));
    return {
      kind: "compute#metadata",
      fingerprint: this.fingerprint,
      ...(items.length ? { items } : {}),
    };
  }
}
