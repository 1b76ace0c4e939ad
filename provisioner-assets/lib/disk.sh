# shellcheck shell=bash
# The boot disk's partitions, found as COS names them in its GPT (PARTLABEL: STATE, ROOT-A, ROOT-B,
# KERN-A, KERN-B, OEM, EFI-SYSTEM) and the disk as their parent in sysfs, never as /dev/sda: GCE
# shows the boot disk as /dev/sda on most machine types and as /dev/nvme0n1 on NVMe ones.
# Sizes and offsets are in 512-byte sectors, as sysfs and sfdisk give them.

# shellcheck disable=SC2034 # used by the files that source this one
readonly SECTOR_BYTES=512

# partition_device VAR NAME: sets VAR to the device of the GPT partition named NAME (/dev/sda3).
partition_device() {
  local __device
  __device=$(blkid -o device -t "PARTLABEL=$2" 2>/dev/null | head -n 1) || __device=""
  if [[ -z $__device && -e $ROOT/dev/disk/by-partlabel/$2 ]]; then
    __device=$(readlink -f "$ROOT/dev/disk/by-partlabel/$2")
  fi
  [[ -n $__device ]] || return 1
  printf -v "$1" '%s' "$__device"
}

# partition_sysfs VAR NAME: sets VAR to the sysfs directory of partition NAME.
partition_sysfs() {
  local __device __dir
  partition_device __device "$2" || return 1
  __dir=$ROOT/sys/class/block/${__device##*/}
  [[ -f $__dir/partition ]] || return 1
  printf -v "$1" '%s' "$__dir"
}

# partition_field VAR NAME FIELD: sets VAR to sysfs FIELD (start, size, partition) of partition NAME.
partition_field() {
  local __dir __value
  partition_sysfs __dir "$2" || return 1
  __value=$(<"$__dir/$3")
  printf -v "$1" '%s' "$__value"
}

# boot_disk VAR: sets VAR to the device of the disk holding the STATE partition (/dev/nvme0n1).
boot_disk() {
  local __dir __disk
  partition_sysfs __dir STATE || return 1
  __disk=$(readlink -f "$__dir/..")
  printf -v "$1" '%s' "/dev/${__disk##*/}"
}

# boot_disk_sectors VAR: sets VAR to the boot disk's size in sectors, as the kernel sees it now.
boot_disk_sectors() {
  local __dir __size
  partition_sysfs __dir STATE || return 1
  __size=$(<"$(readlink -f "$__dir/..")/size")
  printf -v "$1" '%s' "$__size"
}

# partition_of_device VAR DEVICE: sets VAR to the GPT name of the partition DEVICE is (or maps, for
# a device-mapper device such as COS's verified root /dev/dm-0), "" when it is none of COS's.
partition_name_of() {
  local __name=${2##*/} __label=""
  if [[ -d $ROOT/sys/class/block/$__name/slaves ]]; then
    local __slave
    for __slave in "$ROOT/sys/class/block/$__name/slaves/"*; do
      [[ -e $__slave ]] && __name=${__slave##*/}
      break
    done
  fi
  __label=$(blkid -o value -s PARTLABEL "/dev/$__name" 2>/dev/null) || __label=""
  printf -v "$1" '%s' "$__label"
}
