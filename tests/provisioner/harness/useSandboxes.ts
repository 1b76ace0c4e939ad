import { FakeMetadataServer } from "./metadataServer";
import { Sandbox, type SandboxOptions } from "./sandbox";

/** What {@link useSandboxes} gives a suite. */
export interface SandboxSuite {
  /** The suite's metadata server, started before its first test and stopped after its last. */
  readonly metadata: FakeMetadataServer;
  /** Builds a sandbox served by {@link metadata}; it is removed after the test. */
  readonly sandbox: (options: SandboxOptions) => Sandbox;
}

/**
 * The set-up every sandbox suite shares, as mocha hooks of the calling `describe`: one fake metadata
 * server for the suite, and sandboxes that last for one test.
 */
export function useSandboxes(): SandboxSuite {
  const metadata = new FakeMetadataServer();
  const sandboxes: Sandbox[] = [];
  before(() => metadata.start());
  after(() => metadata.stop());
  afterEach(() => sandboxes.splice(0).forEach((box) => box.remove()));
  return {
    metadata,
    sandbox: (options) => {
      const created = Sandbox.create(metadata, options);
      sandboxes.push(created);
      return created;
    },
  };
}
