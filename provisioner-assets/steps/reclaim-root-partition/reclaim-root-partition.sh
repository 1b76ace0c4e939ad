# shellcheck shell=bash
# reclaimRootPartition: ROOT-A, unused once the image boots from ROOT-B, shrinks to 4 KiB and its
# space goes to STATE (and to a grown OEM). The work is the disk layout's, done before the first step
# (steps/disk-layout/disk-layout.sh); this step checks it.

step_reclaim_root_partition() {
  local size
  partition_field size ROOT-A size || fail "$CURRENT_LABEL" "the boot disk has no ROOT-A partition"
  ((size == MINIMAL_PARTITION_SECTORS)) || fail "$CURRENT_LABEL" "ROOT-A was not shrunk (it has $size sectors)"
  status "$CURRENT_LABEL: ROOT-A is reclaimed; the machine runs from ROOT-B"
}
