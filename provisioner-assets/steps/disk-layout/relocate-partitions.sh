#!/bin/bash
# Moves the boot disk's partitions for the disk-layout steps, at shutdown: the stop action of
# pci-relocate-partitions.service (relocation-unit.service), which systemd runs after STATE and OEM
# are unmounted. Its output goes to serial port 3 as BuildStatus lines (the unit's TTYPath).
#   bash relocate-partitions.sh PLAN_FILE
# PLAN_FILE assigns STATUS_MARKER (the protocol's, from lib/protocol.sh), DISK, STATE_NR, OEM_NR,
# ROOT_A_NR, STATE_DEVICE, OEM_DEVICE, SHRINK_ROOT_A, NEW_STATE_START, NEW_OEM_START and
# NEW_OEM_SIZE (sectors), written by disk-layout.sh.
#
# Only what COS has: util-linux's sfdisk (--move-data) and e2fsprogs. The kernel is told nothing
# (--no-reread --no-tell-kernel: the root filesystem on the same disk is still mounted) and the
# machine reboots right after, so the new table is read at the next boot. STATE's filesystem is first
# shrunk to its minimum, so that --move-data copies what STATE holds rather than the whole partition
# (gigabytes of empty blocks); the next boot grows STATE to the end of the disk again, as COS's boot
# does with a larger disk.
set -euo pipefail

STATUS_MARKER=""

# say TEXT: one line of progress (every line of output gets the status marker, see the end).
say() {
  printf '%s\n' "$*"
}

# partition_table: sfdisk with the options every write here uses.
partition_table() {
  sfdisk -q --no-reread --no-tell-kernel "$@"
}

relocate() {
  local mounted
  for device in "$STATE_DEVICE" "$OEM_DEVICE"; do
    mounted=$(findmnt -n -o TARGET --source "$device" 2>/dev/null | head -n 1) || mounted=""
    if [[ -n $mounted ]]; then
      say "FAILED: $device is still mounted on $mounted; nothing was moved"
      return 1
    fi
  done
  say "the partition table before: $(partition_summary)"
  # A disk grown since the table was written has its backup GPT short of the end: move it there
  # first, so the table's last usable sector is the disk's.
  partition_table --relocate gpt-bak-std "$DISK"
  if [[ $SHRINK_ROOT_A == true ]]; then
    say "shrinking ROOT-A (partition $ROOT_A_NR) to 4 KiB"
    echo ",8" | partition_table -N "$ROOT_A_NR" "$DISK"
  fi
  say "shrinking STATE's filesystem to its minimum before moving it"
  local status=0
  e2fsck -f -p "$STATE_DEVICE" || status=$?
  ((status < 4)) || { say "FAILED: e2fsck found errors on STATE ($status)"; return 1; }
  resize2fs -M "$STATE_DEVICE"
  local blocks block_size state_sectors last_usable
  blocks=$(dumpe2fs -h "$STATE_DEVICE" 2>/dev/null | sed -n 's/^Block count: *//p')
  block_size=$(dumpe2fs -h "$STATE_DEVICE" 2>/dev/null | sed -n 's/^Block size: *//p')
  state_sectors=$(((blocks * block_size / 512 + 7) / 8 * 8))
  last_usable=$(($(disk_sectors) - 34))
  if ((NEW_STATE_START + state_sectors - 1 > last_usable)); then
    say "FAILED: STATE needs $state_sectors sectors from $NEW_STATE_START, the disk ends at $last_usable"
    return 1
  fi
  echo ",$state_sectors" | partition_table -N "$STATE_NR" "$DISK"
  say "moving STATE (partition $STATE_NR, $((state_sectors / 2048)) MiB) to sector $NEW_STATE_START"
  echo "$NEW_STATE_START," | partition_table --move-data -N "$STATE_NR" "$DISK"
  if ((NEW_OEM_SIZE > 0)); then
    say "moving OEM (partition $OEM_NR) to sector $NEW_OEM_START and growing it to $((NEW_OEM_SIZE / 2048)) MiB"
    echo "$NEW_OEM_START," | partition_table --move-data -N "$OEM_NR" "$DISK"
    echo ",$NEW_OEM_SIZE" | partition_table -N "$OEM_NR" "$DISK"
  fi
  sync
  say "the partition table after: $(partition_summary)"
}

# disk_sectors: the disk's size in sectors (a disk image file stands for the disk in the tests).
disk_sectors() {
  if [[ -b $DISK ]]; then
    blockdev --getsz "$DISK"
  else
    printf '%d' "$(($(stat -c %s "$DISK") / 512))"
  fi
}

# partition_summary: "<nr>:<name>@<start>+<size>" for STATE, ROOT-A and OEM.
partition_summary() {
  sfdisk -d "$DISK" 2>/dev/null | sed -n -E 's/^[^ ]*[^0-9]([0-9]+) : start= *([0-9]+), size= *([0-9]+),.*name="([^"]*)".*/\1:\4@\2+\3/p' |
    grep -E ':(STATE|ROOT-A|OEM)@' | tr '\n' ' '
}

# shellcheck source=/dev/null # written by disk-layout.sh
source "$1"
# Every line on serial port 3 starts with a protocol marker: the tools' own output too. Any failing
# command stops the relocation (set -e in the subshell: the pipeline runs without errexit).
set +e
(
  set -e
  relocate
) 2>&1 | sed -u "s/^/$STATUS_MARKER disk layout at shutdown: /"
status=${PIPESTATUS[0]}
if ((status == 0)); then
  printf '%s disk layout at shutdown: done\n' "$STATUS_MARKER"
else
  printf '%s disk layout at shutdown: FAILED (status %d): the build fails at the next boot, which finds the old layout\n' \
    "$STATUS_MARKER" "$status"
fi
