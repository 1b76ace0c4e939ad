# shellcheck shell=bash
# shellcheck disable=SC2034 # constants for the files that source this one
# The serial protocol (components/guest/protocol.ts): every line on serial port 3 starts with one marker.

# Must equal PROTOCOL_VERSION in components/guest/protocol.ts (a test checks it).
readonly PROTOCOL_VERSION=1
# Must equal REBOOT_EXIT_CODE in components/guest/protocol.ts (a test checks it).
readonly REBOOT_EXIT_CODE=3
