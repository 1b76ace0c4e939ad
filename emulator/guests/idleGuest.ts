/**
 * A guest that boots and then does nothing, like a VM without any startup work: it prints a few
 * console lines on serial port 1 and runs until stopped. The default for instances that are not
 * build VMs.
 */
import type { GuestBackend } from "./guest";

/** Creates an idle guest. */
export function idleGuest(): GuestBackend {
  return {
    async boot(ctx) {
      ctx.writeSerial(
        1,
        `[    0.000000] Linux version 6.1.0 (emulated idle guest), boot ${ctx.bootNumber}\n`,
      );
      await ctx.sleep(ctx.modelDelayMs("guestBoot"));
      ctx.writeSerial(1, `${ctx.instance.name} login: \n`);
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) return resolve();
        ctx.signal.addEventListener("abort", () => resolve(), { once: true });
      });
    },
  };
}
