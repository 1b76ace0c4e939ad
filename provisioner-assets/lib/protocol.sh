# shellcheck shell=bash
# shellcheck disable=SC2034 # constants for the files that source this one
# The serial protocol (components/guest/protocol.ts): every line on serial port 3 starts with one marker.

# Must equal PROTOCOL_VERSION in components/guest/protocol.ts (a test checks it).
readonly PROTOCOL_VERSION=2
# Must equal REBOOT_EXIT_CODE in components/guest/protocol.ts (a test checks it).
readonly REBOOT_EXIT_CODE=3

# The line markers; each must equal its counterpart in MARKERS of components/guest/protocol.ts (a
# test checks them). A marker is followed by a space and the line's text. The cloud-config's start
# script runs before these files are there: it gets the same markers filled in by renderCloudConfig.
readonly MARKER_PROTOCOL="BuildProtocol:"
readonly MARKER_STATUS="BuildStatus:"
readonly MARKER_SUCCEEDED="BuildSucceeded:"
readonly MARKER_FAILED="BuildFailed:"
# "BuildDiskResize: <sizeGb>": grow the boot disk to <sizeGb> GB, then set metadata pci-disk-resized.
readonly MARKER_DISK_RESIZE="BuildDiskResize:"
