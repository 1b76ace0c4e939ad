# shellcheck shell=bash
# The mid-build disk resize (components/guest/protocol.ts): the guest prints
# "BuildDiskResize: <sizeGb>" on serial port 3; the orchestrator grows the boot disk (Compute's
# disks.resize) and then sets instance attribute pci-disk-resized to <sizeGb>.

# Must equal DISK_RESIZED_METADATA_KEY in components/guest/protocol.ts (a test checks it).
readonly DISK_RESIZED_METADATA_KEY=pci-disk-resized

# request_disk_resize SIZE_GB: asks for the boot disk at SIZE_GB and waits for the acknowledgement,
# at most DISK_RESIZE_TIMEOUT_SECONDS. A request repeated after a reboot is acknowledged again.
request_disk_resize() {
  printf '%s %d\n' "$MARKER_DISK_RESIZE" "$1"
  wait_for_attribute "$DISK_RESIZED_METADATA_KEY" "$1" "$DISK_RESIZE_TIMEOUT_SECONDS"
}
