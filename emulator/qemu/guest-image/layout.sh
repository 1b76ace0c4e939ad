# shellcheck shell=bash
# The COS disk layout of the stand-in, sourced by build-guest-image.sh.
#
# Partition numbers, names, type codes, physical order and sizes are those of a real COS image's
# GPT (COS 81, as listed by `sgdisk -p` in dims/cos-tools'
# src/cmd/cos_image_analyzer/internal/testdata/image1/partitions.txt), so that COS Customizer's disk
# arithmetic (which reads STATE, OEM and ROOT-A offsets from the table) means the same thing here:
#
#   nr  name        first     last      size      type  holds (here)
#   11  RWFW        64        16447     8 MiB     EF02  nothing (COS: firmware)
#    6  KERN-C      16448     16448     1 sector  7F00  nothing
#    7  ROOT-C      16449     16449     1 sector  7F01  nothing
#    9  reserved    16450     16450     1 sector  7F02  nothing
#   10  reserved    16451     16451     1 sector  7F02  nothing
#    2  KERN-A      20480     53247     16 MiB    7F00  nothing (COS: the signed kernel A)
#    4  KERN-B      53248     86015     16 MiB    7F00  nothing
#    8  OEM         86016     118783    16 MiB    8300  empty ext4, label OEM
#   12  EFI-SYSTEM  249856    315391    32 MiB    EF00  FAT: efi/boot/grub.cfg, syslinux/vmlinuz.A/.B
#    5  ROOT-B      315392    4509695   2 GiB     7F01  nothing (the update slot)
#    3  ROOT-A      4509696   8703999   2 GiB     7F01  ext4 root filesystem, mounted read-only
#    1  STATE       8704000   18874476  4.8 GiB   8300  ext4: var/, home/ (grown at boot to the disk's end)
#
# As in COS's image, STATE ends short of the 10 GiB disk: the guest grows it (partition and
# filesystem) at boot to the end of whatever disk it finds, so a larger diskSizeGb gives a larger
# stateful partition.

readonly COS_SECTOR=512
# The GPT's own disk GUID and the partitions' unique GUIDs are fixed, so grub.cfg can name the roots
# by PARTUUID as COS's does (and the recipe stays the same bytes).
readonly COS_DISK_GUID=8F6C9E1A-3B52-4C1D-9E07-5A0C2B7D1E01
readonly COS_ROOT_A_GUID=5E8A2E14-0C3B-4D2E-8B51-7A9D3C2E0A03
readonly COS_ROOT_B_GUID=5E8A2E14-0C3B-4D2E-8B51-7A9D3C2E0A05
readonly COS_STATE_LAST=18874476
readonly COS_ROOT_A_FIRST=4509696
readonly COS_ROOT_A_SECTORS=4194304

# partition_args NR FIRST LAST CODE NAME [GUID]: the sgdisk arguments that create one partition.
partition_args() {
  local args=("--new=$1:$2:$3" "--typecode=$1:$4" "--change-name=$1:$5")
  [[ -n "${6:-}" ]] && args+=("--partition-guid=$1:$6")
  printf '%s\n' "${args[@]}"
}

# write_at DISK FILE FIRST-SECTOR: writes FILE into DISK at FIRST-SECTOR, leaving holes for zeros.
write_at() {
  dd if="$2" of="$1" bs=1M seek="$(($3 * COS_SECTOR))" oflag=seek_bytes conv=notrunc,sparse status=none
}

# cos_grub_cfg: COS's efi/boot/grub.cfg, with our roots' PARTUUIDs. The "verified" entries (the
# default ones, as on COS) map the root through device-mapper as COS's verified boot does, but with
# a linear target instead of dm-verity: the stand-in's root has no hash tree. The root is then
# /dev/dm-0, as on COS, so a target appended to the table (seal-oem) becomes /dev/dm-1.
cos_grub_cfg() {
  local common="init=/usr/lib/systemd/systemd boot=local rootwait ro noresume noswap loglevel=7 noinitrd console=ttyS0 security=apparmor virtio_net.napi_tx=1 csm.disabled=1"
  local slot guid dm
  cat <<'EOF'
defaultA=2
defaultB=3
gptpriority $grubdisk 2 prioA
gptpriority $grubdisk 4 prioB

if [ $prioA -lt $prioB ]; then
  set default=$defaultB
else
  set default=$defaultA
fi

set timeout=0

# NOTE: These magic grub variables are a Chrome OS hack. They are not portable.
EOF
  for slot in A B; do
    guid=$COS_ROOT_A_GUID
    [[ $slot == B ]] && guid=$COS_ROOT_B_GUID
    printf '\nmenuentry "local image %s" {\n  linux /syslinux/vmlinuz.%s %s  i915.modeset=1 cros_efi       root=PARTUUID=%s\n}\n' \
      "$slot" "$slot" "$common" "$guid"
  done
  for slot in A B; do
    guid=$COS_ROOT_A_GUID
    [[ $slot == B ]] && guid=$COS_ROOT_B_GUID
    dm="1 vroot none ro 1,0 $COS_ROOT_A_SECTORS linear PARTUUID=$guid 0"
    printf '\nmenuentry "verified image %s" {\n  linux /syslinux/vmlinuz.%s %s  i915.modeset=1 cros_efi root=/dev/dm-0 dm="%s"\n}\n' \
      "$slot" "$slot" "$common" "$dm"
  done
}

# build_cos_disk ROOTFS OUTPUT DISK-MIB: makes OUTPUT/disk.raw from the root filesystem tree
# ROOTFS (whose /var and /home move to STATE) and OUTPUT/vmlinuz.
build_cos_disk() {
  local rootfs="$1" output="$2" disk_mib="$3"
  local disk="$output/disk.raw" work="$output/partitions"
  local disk_sectors=$((disk_mib * 1024 * 1024 / COS_SECTOR))
  if ((disk_sectors < COS_STATE_LAST + 34)); then
    echo "build-guest-image: a COS disk needs at least $(((COS_STATE_LAST + 34) * COS_SECTOR / 1048576 + 1)) MiB" >&2
    return 1
  fi
  mkdir -p "$work"

  # STATE holds what COS keeps on the stateful partition: /var and /home (with /home/chronos).
  local state="$work/state-tree"
  mkdir -p "$state"
  mv "$rootfs/var" "$state/var"
  mv "$rootfs/home" "$state/home"
  mkdir -p "$rootfs/var" "$rootfs/home" "$rootfs/mnt/stateful_partition" "$rootfs/mnt/disks" \
    "$rootfs/usr/share/oem"
  mkdir -p "$state/home/chronos" "$state/var/lib/docker" "$state/var/lib/google" \
    "$state/var/lib/toolbox" "$state/var/lib/containerd"
  chown 1000:1000 "$state/home/chronos"

  truncate -s "$((COS_ROOT_A_SECTORS * COS_SECTOR))" "$work/root-a.ext4"
  mkfs.ext4 -q -F -L ROOT-A -d "$rootfs" "$work/root-a.ext4"
  truncate -s "$(((COS_STATE_LAST - 8704000 + 1) * COS_SECTOR))" "$work/state.ext4"
  mkfs.ext4 -q -F -L STATE -d "$state" "$work/state.ext4"
  truncate -s 16M "$work/oem.ext4"
  # 4096-byte blocks, as COS's OEM filesystem has (mke2fs would pick 1024 for so small a
  # filesystem): a sealed OEM is read through dm-verity, whose 4096-byte blocks are the device's
  # sector size, and ext4 cannot mount a filesystem whose blocks are smaller than that.
  mkfs.ext4 -q -F -b 4096 -L OEM "$work/oem.ext4"
  truncate -s 32M "$work/efi.fat"
  mkfs.vfat -n EFI-SYSTEM "$work/efi.fat" >/dev/null
  cos_grub_cfg >"$work/grub.cfg"
  mmd -i "$work/efi.fat" ::/efi ::/efi/boot ::/syslinux
  mcopy -i "$work/efi.fat" "$work/grub.cfg" ::/efi/boot/grub.cfg
  mcopy -i "$work/efi.fat" "$output/vmlinuz" ::/syslinux/vmlinuz.A
  mcopy -i "$work/efi.fat" "$output/vmlinuz" ::/syslinux/vmlinuz.B

  truncate -s "$((disk_sectors * COS_SECTOR))" "$disk"
  local table=()
  mapfile -t table < <(
    partition_args 11 64 16447 EF02 RWFW
    partition_args 6 16448 16448 7F00 KERN-C
    partition_args 7 16449 16449 7F01 ROOT-C
    partition_args 9 16450 16450 7F02 reserved
    partition_args 10 16451 16451 7F02 reserved
    partition_args 2 20480 53247 7F00 KERN-A
    partition_args 4 53248 86015 7F00 KERN-B
    partition_args 8 86016 118783 8300 OEM
    partition_args 12 249856 315391 EF00 EFI-SYSTEM
    partition_args 5 315392 4509695 7F01 ROOT-B "$COS_ROOT_B_GUID"
    partition_args 3 "$COS_ROOT_A_FIRST" 8703999 7F01 ROOT-A "$COS_ROOT_A_GUID"
    partition_args 1 8704000 "$COS_STATE_LAST" 8300 STATE
  )
  sgdisk --set-alignment=1 --disk-guid="$COS_DISK_GUID" "${table[@]}" "$disk" >/dev/null
  # A fresh COS image boots slot A: KERN-A priority 2, successful; KERN-B priority 1, never booted.
  cgpt_attributes "$disk" 2 2 0 1
  cgpt_attributes "$disk" 4 1 0 0
  write_at "$disk" "$work/oem.ext4" 86016
  write_at "$disk" "$work/efi.fat" 249856
  write_at "$disk" "$work/root-a.ext4" "$COS_ROOT_A_FIRST"
  write_at "$disk" "$work/state.ext4" 8704000
  rm -rf "$work"
}

# cgpt_attributes DISK NR PRIORITY TRIES SUCCESSFUL: sets a kernel partition's Chrome OS GPT attribute
# bits (priority 48-51, tries 52-55, successful 56), what `cgpt add -P -T -S` sets on COS.
cgpt_attributes() {
  local value=$((($3 << 48) | ($4 << 52) | ($5 << 56)))
  sgdisk "--attributes=$2:=:$(printf '%016x' "$value")" "$1" >/dev/null
}
