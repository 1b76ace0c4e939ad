/**
 * A stand-in for the Pulumi engine, in this process: runs a program under
 * `pulumi.runtime.setMocks`, where every resource registration is handed to a {@link ResourceHandler}
 * that performs it (or, in a preview, plans it). Like `pulumi up`, a run is a preview pass followed
 * by an update pass; each pass evaluates the program afresh.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Change } from "./changes";
import type { TypeScriptProgram } from "./typescriptProgram";

/** One resource registration, as the engine receives it. */
export interface Registration {
  /** Type token, such as `gcp:storage/bucket:Bucket`. */
  type: string;
  /** Logical name. */
  name: string;
  /** True for custom resources (a provider manages them); false for components. */
  custom: boolean;
  /** Inputs, resolved (secrets unwrapped, as a provider that does not accept secrets gets them). */
  inputs: Record<string, unknown>;
}

/** What a handler returns: the resource's id and output properties. */
export interface HandledResource {
  /** Physical id. */
  id: string;
  /** Output properties. */
  state: Record<string, unknown>;
  /** What the handler did (or, in a preview, will do) to it, and why; absent for components. */
  change?: Change;
}

/** Performs (`preview` false) or plans (`preview` true) one registration. */
export type ResourceHandler = (
  registration: Registration,
  preview: boolean,
) => Promise<HandledResource>;

/** The program's identity and configuration. */
export interface EngineOptions {
  /** Pulumi project name. */
  project: string;
  /** Stack name. */
  stack: string;
  /** Stack configuration, such as `{ "gcp:project": "p" }`. */
  config: Record<string, string>;
  /** Performs each registration. */
  handler: ResourceHandler;
}

/** A registration and, once handled, the state it got. */
export interface HandledRegistration extends Registration {
  /** The output properties the handler returned (absent if it failed). */
  state?: Record<string, unknown>;
  /** What was (or will be) done to it, compared with the previous run's state. */
  change?: Change;
}

/** What one pass produced. */
export interface PassResult {
  /** Every registration, in order, with its state. */
  registrations: HandledRegistration[];
  /** The stack outputs (the program's exports), resolved. */
  outputs: Record<string, unknown>;
}

/**
 * Runs one pass of `program`. Resolves once every registration has been handled and the stack
 * outputs are known; rejects with the first failure (the others are in its `cause` chain's
 * siblings, printed by the handler as they happen). The program runs with its own directory as
 * the working directory, as Pulumi runs programs.
 */
export async function runPass(
  program: TypeScriptProgram,
  options: EngineOptions,
  preview: boolean,
): Promise<PassResult> {
  const registrations: HandledRegistration[] = [];
  const handled: Array<Promise<unknown>> = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const registration: HandledRegistration = {
          type: args.type,
          name: args.name,
          custom: Boolean(args.custom),
          inputs: (args.inputs ?? {}) as Record<string, unknown>,
        };
        registrations.push(registration);
        const result = options.handler(registration, preview).then((done) => {
          registration.state = done.state;
          if (done.change) registration.change = done.change;
          return done;
        });
        handled.push(result);
        return result;
      },
      call(args) {
        throw new Error(`the local engine does not emulate the function ${args.token}`);
      },
    },
    options.project,
    options.stack,
    preview,
  );
  // The whole map, replaced: a program sees its own stack's configuration only, as under `pulumi up`,
  // never keys left by an earlier deployment in the same process.
  pulumi.runtime.setAllConfig(options.config);

  const previousDirectory = process.cwd();
  process.chdir(program.directory);
  try {
    const stackOutputs = pulumi.runtime.runInPulumiStack(() => Promise.resolve(program.run()));
    // Every registration settles before the outputs are trusted: a failed resource that no export
    // depends on must still fail the run.
    const [outputs] = await Promise.all([stackOutputs, settleAll(handled)]);
    return { registrations, outputs: outputs ?? {} };
  } finally {
    process.chdir(previousDirectory);
  }
}

/** Waits for every promise in `pending`, including ones added while waiting; rethrows the first failure. */
async function settleAll(pending: Array<Promise<unknown>>): Promise<void> {
  let seen = 0;
  // Registrations keep arriving while earlier ones resolve (an output feeds the next resource).
  for (;;) {
    await new Promise((resolve) => setImmediate(resolve));
    if (seen === pending.length) return;
    seen = pending.length;
    const results = await Promise.allSettled(pending);
    const failed = results.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
  }
}
