import { expect } from "chai";
import {
  escapeOptionValue,
  qemuCommandLine,
  shellQuote,
  validateDeviceName,
  type QemuInvocation,
} from "../../../emulator/qemu/qemuCommandLine";

function invocation(overrides: Partial<QemuInvocation> = {}): QemuInvocation {
  return {
    name: "vm-1",
    accelerator: "tcg",
    memoryMiB: 1024,
    cpus: 1,
    diskInterface: "scsi",
    kernel: "/cache/vmlinuz",
    initrd: "/cache/initrd.img",
    kernelCommandLine: "root=LABEL=root rw console=ttyS0",
    disks: [
      { file: "/vm/boot.qcow2", format: "qcow2", deviceName: "boot" },
      { file: "/vm/cidata.raw", format: "raw", deviceName: "cidata", readOnly: true },
    ],
    serialFiles: ["/vm/s1", "/vm/s2", "/vm/s3", "/vm/s4"],
    qmpSocket: "/tmp/q/qmp.sock",
    metadataRelayCommand: ["/usr/bin/node", "/pkg/metadataRelay.js", "8123"],
    loopbackRelayCommand: ["/usr/bin/node", "/pkg/metadataRelay.js"],
    smbios: { manufacturer: "Google", product: "Google Compute Engine", serial: "GoogleCloud-AB" },
    ...overrides,
  };
}

/** The value following each occurrence of `flag`. */
function valuesOf(args: string[], flag: string): string[] {
  return args.flatMap((arg, index) => (arg === flag ? [args[index + 1]] : []));
}

describe("qemuCommandLine", () => {
  it("boots the kernel directly, and turns a guest reboot into an exit the launcher restarts from", () => {
    const args = qemuCommandLine(invocation());
    expect(valuesOf(args, "-kernel")).to.deep.equal(["/cache/vmlinuz"]);
    expect(valuesOf(args, "-initrd")).to.deep.equal(["/cache/initrd.img"]);
    expect(valuesOf(args, "-append")).to.deep.equal(["root=LABEL=root rw console=ttyS0"]);
    expect(args).to.not.include("-no-reboot");
    expect(args).to.not.include("-no-shutdown");
    // A guest reboot ends the process with reason guest-reset; the launcher restarts it.
    expect(valuesOf(args, "-action")).to.deep.equal(["reboot=shutdown"]);
  });

  it("reports GCE in SMBIOS so cloud-init picks its GCE datasource", () => {
    expect(valuesOf(qemuCommandLine(invocation()), "-smbios")).to.deep.equal([
      "type=1,manufacturer=Google,product=Google Compute Engine,serial=GoogleCloud-AB",
    ]);
  });

  it("captures the four serial ports to files, in port order, appending across restarts", () => {
    const args = qemuCommandLine(invocation());
    expect(valuesOf(args, "-chardev")).to.deep.equal([
      "file,id=serial0,path=/vm/s1,append=on",
      "file,id=serial1,path=/vm/s2,append=on",
      "file,id=serial2,path=/vm/s3,append=on",
      "file,id=serial3,path=/vm/s4,append=on",
    ]);
    expect(valuesOf(args, "-serial")).to.deep.equal([
      "chardev:serial0",
      "chardev:serial1",
      "chardev:serial2",
      "chardev:serial3",
    ]);
  });

  it("forwards 169.254.169.254:80 to one relay process per connection on link-local user networking", () => {
    const [netdev] = valuesOf(qemuCommandLine(invocation()), "-netdev");
    expect(netdev.split(",")).to.include.members([
      "user",
      "net=169.254.0.0/16",
      "host=169.254.0.2",
      "dhcpstart=169.254.0.15",
      "guestfwd=tcp:169.254.169.254:80-cmd:/usr/bin/node /pkg/metadataRelay.js 8123",
    ]);
  });

  it("attaches each disk as SCSI whose serial is the device name, read-only where asked", () => {
    const args = qemuCommandLine(invocation());
    const blockdevs = valuesOf(args, "-blockdev").map(
      (json) => JSON.parse(json) as Record<string, unknown>,
    );
    const devices = valuesOf(args, "-device")
      .slice(2)
      .map((json) => JSON.parse(json) as Record<string, unknown>);
    expect(valuesOf(args, "-device")[1]).to.equal("virtio-scsi-pci,id=scsi0");
    expect(blockdevs).to.deep.equal([
      {
        driver: "qcow2",
        "node-name": "disk0",
        "read-only": false,
        file: { driver: "file", filename: "/vm/boot.qcow2", "read-only": false },
      },
      {
        driver: "raw",
        "node-name": "disk1",
        "read-only": true,
        file: { driver: "file", filename: "/vm/cidata.raw", "read-only": true },
      },
    ]);
    expect(devices).to.deep.equal([
      // Target numbers in disk order: the boot disk is /dev/sda after every restart.
      {
        driver: "scsi-hd",
        bus: "scsi0.0",
        "scsi-id": 0,
        lun: 0,
        id: "disk0-device",
        drive: "disk0",
        serial: "boot",
      },
      {
        driver: "scsi-hd",
        bus: "scsi0.0",
        "scsi-id": 1,
        lun: 0,
        id: "disk1-device",
        drive: "disk1",
        serial: "cidata",
      },
    ]);
  });

  it("attaches each disk as an NVMe controller with the device name as serial when asked", () => {
    const args = qemuCommandLine(invocation({ diskInterface: "nvme" }));
    const devices = valuesOf(args, "-device")
      .slice(2)
      .map((json) => JSON.parse(json) as Record<string, unknown>);
    expect(devices).to.deep.equal([
      { driver: "nvme", id: "disk0-device", drive: "disk0", serial: "boot" },
      { driver: "nvme", id: "disk1-device", drive: "disk1", serial: "cidata" },
    ]);
  });

  it("forwards the guest's registry mirror address to the host's registry port only when given one, a relay per connection", () => {
    const [without] = valuesOf(qemuCommandLine(invocation()), "-netdev");
    expect(without).to.not.contain("169.254.169.250");
    const [withRegistry] = valuesOf(qemuCommandLine(invocation({ registryPort: 5123 })), "-netdev");
    expect(withRegistry).to.contain(
      ",guestfwd=tcp:169.254.169.250:5000-cmd:/usr/bin/node /pkg/metadataRelay.js 5123",
    );
  });

  it("forwards further registries at the mirror's address, each on its own guest port", () => {
    const [netdev] = valuesOf(
      qemuCommandLine(
        invocation({
          registryPort: 5123,
          registryForwards: [
            { guestPort: 5001, hostPort: 6001 },
            { guestPort: 443, hostPort: 6002 },
          ],
        }),
      ),
      "-netdev",
    );
    expect(netdev).to.contain(
      ",guestfwd=tcp:169.254.169.250:5000-cmd:/usr/bin/node /pkg/metadataRelay.js 5123",
    );
    expect(netdev).to.contain(
      ",guestfwd=tcp:169.254.169.250:5001-cmd:/usr/bin/node /pkg/metadataRelay.js 6001",
    );
    expect(netdev).to.contain(
      ",guestfwd=tcp:169.254.169.250:443-cmd:/usr/bin/node /pkg/metadataRelay.js 6002",
    );
    expect(() =>
      qemuCommandLine(invocation({ registryForwards: [{ guestPort: 5000, hostPort: 6001 }] })),
    ).to.throw("registryForwards[0].guestPort 5000 is taken");
    expect(() =>
      qemuCommandLine(invocation({ registryForwards: [{ guestPort: 443, hostPort: 0 }] })),
    ).to.throw("registryForwards[0].hostPort is 0: give a TCP port from 1 to 65535");
  });

  it("picks the CPU model from the accelerator and sets memory and CPUs", () => {
    const kvm = qemuCommandLine(invocation({ accelerator: "kvm", memoryMiB: 2048, cpus: 2 }));
    expect(valuesOf(kvm, "-machine")).to.deep.equal(["pc,accel=kvm"]);
    expect(valuesOf(kvm, "-cpu")).to.deep.equal(["host"]);
    expect(valuesOf(kvm, "-m")).to.deep.equal(["2048"]);
    expect(valuesOf(kvm, "-smp")).to.deep.equal(["2"]);
    expect(valuesOf(qemuCommandLine(invocation()), "-cpu")).to.deep.equal(["max"]);
  });

  it("escapes commas in option values and quotes relay words for slirp's shell parser", () => {
    expect(escapeOptionValue("/a,b/c")).to.equal("/a,,b/c");
    expect(shellQuote("/usr/bin/node")).to.equal("/usr/bin/node");
    expect(shellQuote("/my dir/it's.js")).to.equal(`'/my dir/it'\\''s.js'`);
    const [netdev] = valuesOf(
      qemuCommandLine(invocation({ metadataRelayCommand: ["/n", "/odd,dir/relay.js", "1"] })),
      "-netdev",
    );
    expect(netdev).to.contain("-cmd:/n /odd,,dir/relay.js 1");
  });

  it("refuses device names a virtio serial cannot carry", () => {
    expect(() => validateDeviceName("scratch")).to.not.throw();
    expect(() => validateDeviceName("a-name-of-21-chars-xx")).to.throw(/longer than 20/);
    expect(() => validateDeviceName("bad,name")).to.throw(/letters, digits/);
    expect(() =>
      qemuCommandLine(invocation({ disks: [{ file: "/x", format: "raw", deviceName: "" }] })),
    ).to.throw();
  });
});
