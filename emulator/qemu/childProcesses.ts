/**
 * No orphan QEMU: every machine process is SIGKILLed when this Node process exits, however it
 * exits. Two layers, because neither covers every case alone:
 *
 * - an `exit` hook kills the live children when Node exits normally or on an uncaught exception;
 * - `setpriv --pdeathsig KILL` (util-linux) makes the kernel kill the child when its parent dies,
 *   which also covers `kill -9` of Node. The kernel ties that to the parent *thread*: spawn machines
 *   from the main thread, not from a worker thread that may end first.
 */
import type { ChildProcess } from "node:child_process";
import { findCommand } from "./prerequisites";

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills `child` with SIGKILL if this process exits while it still runs. */
export function killOnExit(child: ChildProcess): void {
  if (!exitHookInstalled) {
    process.on("exit", () => {
      for (const live of liveChildren) live.kill("SIGKILL");
    });
    exitHookInstalled = true;
  }
  liveChildren.add(child);
  const forget = () => liveChildren.delete(child);
  child.once("exit", forget);
  child.once("error", forget);
}

/**
 * The argv prefix that makes a spawned program die with its parent (`setpriv --pdeathsig KILL --`),
 * or nothing when `setpriv` is not installed (the `exit` hook of {@link killOnExit} still applies).
 */
export async function dieWithParentPrefix(): Promise<string[]> {
  const setpriv = await findCommand("setpriv");
  return setpriv ? [setpriv, "--pdeathsig", "KILL", "--"] : [];
}
