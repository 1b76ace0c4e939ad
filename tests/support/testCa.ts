/**
 * A certificate authority made for one test run with `openssl` (no network, nothing kept): a CA
 * certificate and one server certificate it signed for the names and addresses a test registry is
 * reached at. Test-side only. The keys stay in a temporary directory that {@link TestCa.remove}
 * deletes; the test hands guests only the CA certificate, as a user with a private CA would.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { requireCommands } from "../../emulator/qemu/prerequisites";

const execFileAsync = promisify(execFile);

/** What {@link makeTestCa} made. */
export interface TestCa {
  /** The CA certificate (PEM): what clients are told to trust. */
  caCertificate: string;
  /** The server certificate (PEM), signed by the CA, for the names given. */
  serverCertificate: string;
  /** The server certificate's private key (PEM). */
  serverKey: string;
  /** Deletes the keys' directory. */
  remove(): Promise<void>;
}

/** Names a server certificate is for. */
export interface ServerNames {
  /** DNS names (subjectAltName DNS entries), such as `us-docker.pkg.dev`. Default: none. */
  dns?: readonly string[];
  /** IP addresses (subjectAltName IP entries), such as `169.254.169.250`. Default: none. */
  ip?: readonly string[];
}

/**
 * Makes a CA (P-256 keys, valid two days: enough for any test run, short enough to be useless later)
 * and a server certificate for `names` (at least one). Needs `openssl`; its absence is reported with
 * the `apt-get install` line before anything is made.
 */
export async function makeTestCa(names: ServerNames): Promise<TestCa> {
  const altNames = [
    ...(names.dns ?? []).map((name) => `DNS:${name}`),
    ...(names.ip ?? []).map((address) => `IP:${address}`),
  ];
  if (altNames.length === 0) throw new Error("makeTestCa: give the server at least one name");
  const { openssl } = await requireCommands(["openssl"]);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "pci-test-ca-"));
  const file = (name: string): string => path.join(dir, name);
  const run = (args: string[]): Promise<unknown> => execFileAsync(openssl, args);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  try {
    await run([
      "req", "-x509", ...ec, "-keyout", file("ca.key"), "-out", file("ca.crt"), "-days", "2",
      "-subj", "/CN=preloaded-cos-image test CA",
      "-addext", "basicConstraints=critical,CA:TRUE",
      "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    ]); // prettier-ignore
    await run([
      "req", ...ec, "-keyout", file("server.key"), "-out", file("server.csr"),
      "-subj", "/CN=preloaded-cos-image test registry",
    ]); // prettier-ignore
    await fs.writeFile(
      file("server.ext"),
      [
        `subjectAltName=${altNames.join(",")}`,
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth",
        "",
      ].join("\n"),
    );
    await run([
      "x509", "-req", "-in", file("server.csr"), "-CA", file("ca.crt"), "-CAkey", file("ca.key"),
      "-CAcreateserial", "-out", file("server.crt"), "-days", "2", "-extfile", file("server.ext"),
    ]); // prettier-ignore
    const [caCertificate, serverCertificate, serverKey] = await Promise.all(
      ["ca.crt", "server.crt", "server.key"].map((name) => fs.readFile(file(name), "utf8")),
    );
    return {
      caCertificate: caCertificate,
      serverCertificate: serverCertificate,
      serverKey: serverKey,
      remove: () => fs.rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await fs.rm(dir, { recursive: true, force: true });
    throw error;
  }
}
