# shellcheck shell=bash
# The boot disk's partitions, found as COS names them in its GPT (PARTLABEL: STATE, ROOT-A, ROOT-B,
# KERN-A, KERN-B, OEM, EFI-SYSTEM) and the disk as their parent in sysfs, never as /dev/sda: GCE
# shows the boot disk as /dev/sda on most machine types and as /dev/nvme0n1 on NVMe ones.
# Sizes and offsets are in 512-byte sectors, as sysfs and sfdisk give them. The functions set the
# caller's variable by name, so each one's locals have names of their own (no shadowing).

# shellcheck disable=SC2034 # used by the files that source this one
readonly SECTOR_BYTES=512

# partition_device VAR NAME: sets VAR to the device of the GPT partition named NAME (/dev/sda3).
partition_device() {
  local __pd_device
  __pd_device=$(blkid -o device -t "PARTLABEL=$2" 2>/dev/null | head -n 1) || __pd_device=""
  if [[ -z $__pd_device && -e $ROOT/dev/disk/by-partlabel/$2 ]]; then
    __pd_device=$(readlink -f "$ROOT/dev/disk/by-partlabel/$2")
  fi
  [[ -n $__pd_device ]] || return 1
  printf -v "$1" '%s' "$__pd_device"
}

# partition_sysfs VAR NAME: sets VAR to the sysfs directory of partition NAME.
partition_sysfs() {
  local __ps_device __ps_dir
  partition_device __ps_device "$2" || return 1
  __ps_dir=$ROOT/sys/class/block/${__ps_device##*/}
  [[ -f $__ps_dir/partition ]] || return 1
  printf -v "$1" '%s' "$__ps_dir"
}

# partition_field VAR NAME FIELD: sets VAR to sysfs FIELD (start, size, partition) of partition NAME.
partition_field() {
  local __pf_dir __pf_value
  partition_sysfs __pf_dir "$2" || return 1
  __pf_value=$(<"$__pf_dir/$3")
  printf -v "$1" '%s' "$__pf_value"
}

# boot_disk VAR: sets VAR to the device of the disk holding the STATE partition (/dev/nvme0n1).
boot_disk() {
  local __bd_dir __bd_disk
  partition_sysfs __bd_dir STATE || return 1
  __bd_disk=$(readlink -f "$__bd_dir/..")
  printf -v "$1" '%s' "/dev/${__bd_disk##*/}"
}

# boot_disk_sectors VAR: sets VAR to the boot disk's size in sectors, as the kernel sees it now.
boot_disk_sectors() {
  local __bs_dir __bs_size
  partition_sysfs __bs_dir STATE || return 1
  __bs_size=$(<"$(readlink -f "$__bs_dir/..")/size")
  printf -v "$1" '%s' "$__bs_size"
}
