/**
 * Cloud-configs of the end-to-end tests. Each writes a script and a oneshot systemd unit whose
 * output goes to serial port 3 (`/dev/ttyS2`), the way the real pipeline's user-data starts the
 * provisioner, and starts the unit without blocking cloud-init.
 */

/** Indents every line of `text` by `spaces` (for YAML block scalars). */
function indent(text: string, spaces: number): string {
  const pad = " ".repeat(spaces);
  return text
    .split("\n")
    .map((line) => (line ? pad + line : line))
    .join("\n");
}

/**
 * A cloud-config that installs `/etc/pci-e2e/<name>.sh` and `<name>.service` (output on `tty`,
 * default `/dev/ttyS2`, serial port 3), then starts it. The script is in /etc because the COS-shaped
 * guest's root is read-only; /etc forgets it at reboot, but cloud-init (whose state is a tmpfs, as
 * on COS) writes and starts both again at every boot, so `enable` only matters for guests that keep
 * /etc.
 */
export function oneshotUnitCloudConfig(
  name: string,
  script: string,
  options: { enable?: boolean; tty?: string } = {},
): string {
  const tty = options.tty ?? "/dev/ttyS2";
  const unit = [
    "[Unit]",
    `Description=preloaded-cos-image end-to-end test unit ${name}`,
    "Wants=network-online.target",
    "After=network-online.target",
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStart=/etc/pci-e2e/${name}.sh`,
    `StandardOutput=file:${tty}`,
    `StandardError=file:${tty}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
  return [
    "#cloud-config",
    "write_files:",
    `  - path: /etc/pci-e2e/${name}.sh`,
    '    permissions: "0755"',
    "    content: |",
    indent(script, 6),
    `  - path: /etc/systemd/system/${name}.service`,
    "    content: |",
    indent(unit, 6),
    "runcmd:",
    "  - [systemctl, daemon-reload]",
    ...(options.enable ? [`  - [systemctl, enable, ${name}.service]`] : []),
    `  - [systemctl, --no-block, start, ${name}.service]`,
    "",
  ].join("\n");
}

/** `curl` of a metadata attribute as a guest does it on GCE; prints the value, fails on 404. */
export function curlAttribute(key: string): string {
  return (
    "curl -sf -H 'Metadata-Flavor: Google' " +
    `http://169.254.169.254/computeMetadata/v1/instance/attributes/${key}`
  );
}
