import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import { PROVISIONER_ASSETS_DIR } from "../../components/guest/cloudConfig";
import type { GuestContext } from "../../emulator";
import { fetchCidata } from "../../emulator/guests/cidataFetch";
import { GCE_LATENCY } from "../../emulator/latency";

describe("the scripted guest's CIDATA fetch without a route to Google's APIs", () => {
  const value = `http://127.0.0.1:9/o/tree?alt=media 10 ${"0".repeat(64)}`;

  /** A guest context without a route, recording what the guest waits for. */
  function unrouted(): { ctx: GuestContext; slept: number[]; asked: string[] } {
    const slept: number[] = [];
    const asked: string[] = [];
    const ctx = {
      reachesGoogleApis: false,
      signal: new AbortController().signal,
      modelDelayMs: (kind: string) => {
        asked.push(kind);
        return kind === "unroutedConnect" ? 1_234 : 0;
      },
      sleep: (ms: number) => {
        slept.push(ms);
        return Promise.resolve();
      },
    } as unknown as GuestContext;
    return { ctx, slept, asked };
  }

  it("waits the connect timeout of the model before it fails, as curl does on GCE", async () => {
    const { ctx, slept, asked } = unrouted();
    const result = await fetchCidata(ctx, value);
    expect(result).to.deep.equal({
      ok: false,
      reason: "no route to Cloud Storage (connection timed out)",
    });
    expect(asked).to.deep.equal(["unroutedConnect"]);
    expect(slept).to.deep.equal([1_234]);
  });

  it("models that timeout on the GCE model as the start script's curl --connect-timeout", () => {
    const script = fs.readFileSync(path.join(PROVISIONER_ASSETS_DIR, "start.sh"), "utf8");
    const seconds = Number(/^readonly connect_seconds=(\d+)$/m.exec(script)?.[1]);
    expect(seconds).to.be.greaterThan(0);
    expect(GCE_LATENCY.unroutedConnect).to.deep.equal({ baseMs: seconds * 1000 });
  });
});
