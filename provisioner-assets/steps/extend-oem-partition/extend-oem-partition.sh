# shellcheck shell=bash
# extendOemPartition: the OEM partition grows to the requested size (less COS Customizer's 1 MiB),
# moved after ROOT-A with STATE after it. The work is the disk layout's, done before the first step
# so that every script finds the larger OEM (steps/disk-layout/disk-layout.sh); this step checks it.

step_extend_oem_partition() {
  local start root_a bytes device
  if ! partition_field start OEM start || ! partition_field root_a ROOT-A start; then
    fail "$CURRENT_LABEL" "the boot disk has no OEM or ROOT-A partition"
  fi
  partition_device device OEM || fail "$CURRENT_LABEL" "the boot disk has no OEM partition"
  ((start > root_a)) || fail "$CURRENT_LABEL" "the OEM partition was not moved after ROOT-A"
  bytes=$(ext4_bytes "$device") || fail "$CURRENT_LABEL" "could not read the OEM filesystem's size"
  status "$CURRENT_LABEL: the OEM filesystem has $((bytes / 1048576)) MiB"
}
