/**
 * A minimal client for the QEMU Machine Protocol (QMP): newline-delimited JSON over a unix socket.
 * It does the capabilities handshake, matches replies to commands by `id`, and hands asynchronous
 * events (SHUTDOWN, RESET, DEVICE_DELETED...) to listeners.
 */
import * as net from "node:net";

/** An asynchronous QMP event, e.g. `{ event: "SHUTDOWN", data: { guest: true, reason: "guest-shutdown" } }`. */
export interface QmpEvent {
  /** Event name, e.g. `SHUTDOWN`, `RESET`, `POWERDOWN`. */
  event: string;
  /** Event payload; its shape depends on the event. */
  data?: Record<string, unknown>;
  /** When QEMU emitted it. */
  timestamp?: { seconds: number; microseconds: number };
}

/** A command QEMU answered with an error (`{"error": {"class", "desc"}}`). */
export class QmpCommandError extends Error {
  /** QMP error class, e.g. `GenericError`, `DeviceNotFound`. */
  readonly errorClass: string;

  /** The error for `command`, which QEMU refused with `errorClass` and `description`. */
  constructor(command: string, errorClass: string, description: string) {
    super(`QMP command ${command} failed: ${errorClass}: ${description}`);
    this.name = "QmpCommandError";
    this.errorClass = errorClass;
  }
}

interface PendingCommand {
  command: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/** Options of {@link QmpClient.connect}. */
export interface QmpConnectOptions {
  /**
   * How long to keep retrying while the socket does not exist or refuses connections yet (QEMU
   * creates it while starting up). Default 10 s.
   */
  timeoutMs?: number;
  /** Give up early when this returns true (e.g. the QEMU process already exited). */
  shouldGiveUp?: () => boolean;
}

/** One QMP session on a connected unix socket, past the capabilities handshake. */
export class QmpClient {
  private readonly socket: net.Socket;
  private readonly pending = new Map<number, PendingCommand>();
  private readonly eventListeners = new Set<(event: QmpEvent) => void>();
  private nextId = 1;
  private buffered = "";
  private closedError: Error | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => this.onData(chunk));
    socket.on("error", (error) => this.onClose(error));
    socket.on("close", () => this.onClose(new Error("QEMU closed the QMP connection")));
  }

  /** Connects to QEMU's QMP socket (retrying while QEMU starts) and negotiates capabilities. */
  static async connect(socketPath: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    for (;;) {
      try {
        const socket = await openSocket(socketPath);
        const client = new QmpClient(socket);
        await client.handshake();
        return client;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const retriable = code === "ENOENT" || code === "ECONNREFUSED";
        if (!retriable || Date.now() > deadline || options.shouldGiveUp?.()) {
          throw new Error(`cannot connect to QMP socket ${socketPath}: ${String(error)}`, {
            cause: error,
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /** Runs one QMP command and resolves with its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    const message = JSON.stringify(
      args ? { execute: command, arguments: args, id } : { execute: command, id },
    );
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { command, resolve: resolve as (value: unknown) => void, reject });
      this.socket.write(message + "\n");
    });
  }

  /** Calls `listener` for every event from now on; returns a function that unsubscribes it. */
  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** True once the connection is gone (QEMU exited or {@link close} was called). */
  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Closes the connection; commands still waiting are rejected. */
  close(): void {
    this.socket.destroy();
    this.onClose(new Error("QMP connection closed by the client"));
  }

  private async handshake(): Promise<void> {
    // The greeting ({"QMP": {...}}) arrives before anything else and is not a reply; it is dropped
    // in onData. Commands are refused until qmp_capabilities leaves negotiation mode.
    await this.execute("qmp_capabilities");
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    let newline: number;
    while ((newline = this.buffered.indexOf("\n")) >= 0) {
      const line = this.buffered.slice(0, newline).trim();
      this.buffered = this.buffered.slice(newline + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // QEMU only sends JSON; a torn line cannot happen with newline framing.
    }
    if (typeof message.event === "string") {
      for (const listener of this.eventListeners) listener(message as unknown as QmpEvent);
      return;
    }
    if (typeof message.id !== "number") return; // the greeting
    const pending = this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id);
    const error = message.error as { class?: string; desc?: string } | undefined;
    if (error) {
      pending.reject(new QmpCommandError(pending.command, error.class ?? "?", error.desc ?? ""));
    } else {
      pending.resolve(message.return);
    }
  }

  private onClose(error: Error): void {
    if (this.closedError) return;
    this.closedError = error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

function openSocket(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    socket.once("connect", () => {
      socket.removeListener("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}
