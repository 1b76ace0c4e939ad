import { expect } from "chai";
import { Deadline, DeadlineExceededError } from "../../components/google/deadline";
import { httpStatusOf, isNotFound, isTransient } from "../../components/google/errors";
import { withRetry } from "../../components/google/retry";

const apiError = (httpStatusCode: number, message = "boom") =>
  Object.assign(new Error(message), { httpStatusCode });
const fast = { initialMs: 1, maxMs: 4, maxAttempts: 5 };

/** Retries (fast) a call that always throws `failure`: how often it was called, and what came out. */
async function alwaysFailing(failure: Error): Promise<{ calls: number; error: unknown }> {
  const deadline = new Deadline(10_000);
  let calls = 0;
  const error = await withRetry(
    "a call",
    async () => {
      calls++;
      throw failure;
    },
    deadline,
    fast,
  ).catch((e: unknown) => e);
  deadline.cancel();
  return { calls, error };
}

describe("API errors and retries", () => {
  it("classifies errors like Google's retry guidance", () => {
    expect(isTransient(apiError(429))).to.equal(true);
    expect(isTransient(apiError(503))).to.equal(true);
    expect(isTransient(apiError(500))).to.equal(true);
    expect(isTransient(apiError(403, "Rate Limit Exceeded"))).to.equal(true);
    expect(isTransient(apiError(403, "Required 'compute.instances.create' permission"))).to.equal(
      false,
    );
    expect(isTransient(apiError(400))).to.equal(false);
    expect(isTransient(apiError(404))).to.equal(false);
    expect(
      isTransient(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })),
    ).to.equal(true);
    expect(isNotFound({ code: 404 })).to.equal(true);
    expect(httpStatusOf({ code: 5, httpStatusCode: 404 })).to.equal(404);
    // How the Storage client's resumable upload reports giving up on its own retries.
    expect(isTransient(new Error("Retry limit exceeded - status: 429 - {...}"))).to.equal(true);
  });

  it("retries transient failures until the call succeeds", async () => {
    const deadline = new Deadline(10_000);
    let calls = 0;
    const retries: number[] = [];
    const result = await withRetry(
      "a call",
      async () => {
        calls++;
        if (calls < 3) throw apiError(503);
        return "ok";
      },
      deadline,
      fast,
      (attempt) => retries.push(attempt),
    );
    deadline.cancel();
    expect(result).to.equal("ok");
    expect(calls).to.equal(3);
    expect(retries).to.deep.equal([1, 2]);
  });

  it("fails at once on a final error", async () => {
    const { calls, error } = await alwaysFailing(
      apiError(400, "Invalid value for field 'resource.name'"),
    );
    expect(calls).to.equal(1);
    expect((error as Error).message).to.equal("Invalid value for field 'resource.name'");
  });

  it("gives up after the last attempt", async () => {
    const { calls, error } = await alwaysFailing(apiError(429));
    expect(calls).to.equal(5);
    expect(httpStatusOf(error)).to.equal(429);
  });

  it("stops at the deadline, naming what it was doing", async () => {
    const deadline = new Deadline(30);
    const error = await withRetry(
      "creating the VM",
      async () => {
        throw apiError(503);
      },
      deadline,
      { initialMs: 1000, maxMs: 1000, maxAttempts: 100 },
    ).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(Error);
    expect(
      (error as Error).name === "AbortError" || error instanceof DeadlineExceededError,
    ).to.equal(true);
  });
});
