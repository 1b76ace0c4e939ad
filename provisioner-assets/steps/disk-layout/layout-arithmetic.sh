# shellcheck shell=bash
# The disk arithmetic of the layout steps, as COS Customizer's (its finish-image-build
# normalisation and src/pkg/tools/handle_disk_layout.go), in pure functions of numbers so that the
# tests can call them directly. Sizes in 512-byte sectors unless the name says bytes.

readonly MIB_SECTORS=2048
# ROOT-A shrinks to 8 sectors (4 KiB): the smallest size that keeps the partitions 4 KiB aligned.
readonly MINIMAL_PARTITION_SECTORS=8
# What follows the shrunk ROOT-A starts 2 MiB after ROOT-A's start: `sfdisk --move-data` may need
# 1 MiB free in the direction of the move, and the next partition stays 4 KiB aligned.
readonly RECLAIM_MARGIN_SECTORS=4096
# The OEM filesystem when no size is asked for a sealed OEM: COS's 16 MiB.
# shellcheck disable=SC2034 # read by disk-layout.sh
readonly DEFAULT_OEM_FS_BYTES=$((16 * 1024 * 1024))
# The backup GPT (header and 32 sectors of entries) after the last usable sector.
readonly BACKUP_GPT_SECTORS=33

# oem_partition_sectors FS_BYTES SEAL: the OEM partition size the layout makes for an OEM filesystem
# of FS_BYTES (doubled when SEAL is true: the hash tree takes the second half), shrunk by 1 MiB as
# COS Customizer does (floor in MiB, minus one), so that the exact-fit cases of its disk-size rule
# (1G on an 11 GB disk) still fit beside the partitions' alignment.
oem_partition_sectors() {
  local bytes=$1
  [[ $2 == true ]] && bytes=$((bytes * 2))
  local mib=$((bytes / 1024 / 1024 - 1))
  ((mib > 0)) || mib=0
  printf '%d' "$((mib * MIB_SECTORS))"
}

# floor_4k SECTOR: the 4 KiB boundary at or below SECTOR.
floor_4k() {
  printf '%d' "$(($1 / 8 * 8))"
}

# relocation_plan RECLAIM OEM_TARGET ROOT_A_START STATE_START OEM_SIZE: prints
# "<start point> <new STATE start> <new OEM start> <new OEM size>", the last two 0 when OEM stays.
# The start point is 2 MiB after ROOT-A's start when ROOT-A is reclaimed, else STATE's start. An OEM
# partition that must grow moves to the start point and ends where STATE now starts (rounded down
# to 4 KiB); STATE moves to the start point otherwise.
relocation_plan() {
  local reclaim=$1 oem_target=$2 root_a_start=$3 state_start=$4 oem_size=$5
  local start=$state_start
  [[ $reclaim == true ]] && start=$((root_a_start + RECLAIM_MARGIN_SECTORS))
  if ((oem_target > oem_size)); then
    local new_state
    new_state=$(floor_4k "$((start + oem_target))")
    printf '%d %d %d %d' "$start" "$new_state" "$start" "$((new_state - start))"
  else
    printf '%d %d 0 0' "$start" "$start"
  fi
}

# layout_relocated RECLAIM OEM_TARGET ROOT_A_START ROOT_A_SIZE STATE_START OEM_START:
# succeeds when the partitions already have the layout (COS Customizer's tests): an OEM that had to
# grow lies after ROOT-A; otherwise a reclaimed ROOT-A is minimal with STATE 2 MiB after its start.
layout_relocated() {
  local reclaim=$1 oem_target=$2 root_a_start=$3 root_a_size=$4 state_start=$5 oem_start=$6
  if ((oem_target > 0)); then
    ((oem_start > root_a_start + root_a_size - 1))
    return
  fi
  [[ $reclaim == true ]] || return 0
  ((root_a_size == MINIMAL_PARTITION_SECTORS && state_start == root_a_start + RECLAIM_MARGIN_SECTORS))
}

# state_room NEW_STATE_START DISK_SECTORS: sectors STATE can take from its new start to the last
# usable sector before the backup GPT.
state_room() {
  printf '%d' "$(($2 - BACKUP_GPT_SECTORS - $1))"
}
