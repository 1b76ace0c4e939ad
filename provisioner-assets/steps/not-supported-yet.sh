# shellcheck shell=bash
# extendOemPartition, sealOemPartition, reclaimRootPartition: disk-layout steps that need reboots
# around a repartitioning (COS Customizer's handle_disk_layout); not implemented yet. The component
# rejects them at preview already; this is the provisioner's own guard.

step_not_supported_yet() {
  fail "$CURRENT_LABEL" "this step is not supported yet"
}
