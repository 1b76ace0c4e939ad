# shellcheck shell=bash
# sealOemPartition: as COS Customizer's seal-oem, protects the OEM partition with dm-verity. The disk
# layout (steps/disk-layout/) made the partition twice the filesystem's size; this step writes the
# hash tree into the second half (4096-byte blocks, no superblock: verity-hash-tree.sh), then edits
# every COS boot entry: a read-only verity target `oemroot` appended to its dm="..." table (and to
# dm-mod.create=, the newer syntax, when present), and usr-share-oem.mount and update-engine.service
# masked. At boot the sealed OEM is /dev/dm-1 (/dev/dm-0 is the verified root); nothing mounts it:
# users mount it on /usr/share/oem themselves, read-only. Steps after this one must not write OEM.

readonly OEM_MOUNT_MASK=systemd.mask=usr-share-oem.mount

step_seal_oem_partition() {
  local device partuuid fs_bytes blocks sectors have_bytes partition_sectors tree digest
  partition_device device OEM || fail "$CURRENT_LABEL" "the boot disk has no OEM partition"
  partition_field partition_sectors OEM size || fail "$CURRENT_LABEL" "could not read the OEM partition's size"
  partuuid=$(blkid -o value -s PARTUUID "$device") || partuuid=""
  [[ -n $partuuid ]] || fail "$CURRENT_LABEL" "could not read the OEM partition's PARTUUID"
  fs_bytes=$LAYOUT_OEM_FS_BYTES
  blocks=$((fs_bytes / VERITY_BLOCK))
  sectors=$((fs_bytes / SECTOR_BYTES))
  have_bytes=$(ext4_bytes "$device") || fail "$CURRENT_LABEL" "could not read the OEM filesystem's size"
  # dm-verity's 4096-byte blocks become /dev/dm-1's sector size, and ext4 cannot mount a filesystem
  # with smaller blocks on it: refuse now rather than leave an image whose OEM cannot be mounted.
  local block_size
  block_size=$(ext4_block_size "$device") || fail "$CURRENT_LABEL" "could not read the OEM filesystem's block size"
  ((block_size >= VERITY_BLOCK)) ||
    fail "$CURRENT_LABEL" "the OEM filesystem has $block_size-byte blocks; sealed, it could not be mounted (dm-verity reads 4096-byte blocks)"
  ((have_bytes <= fs_bytes)) ||
    fail "$CURRENT_LABEL" "the OEM filesystem ($have_bytes bytes) is larger than the $fs_bytes bytes to seal"
  tree=$(verity_tree_bytes "$blocks")
  ((fs_bytes + tree <= partition_sectors * SECTOR_BYTES)) ||
    fail "$CURRENT_LABEL" "the OEM partition ($((partition_sectors / 2048)) MiB) has no room for the hash tree after its $((fs_bytes / 1048576)) MiB filesystem"
  release_oem_mount
  local work="$RUN_DIR/verity"
  rm -rf "$work"
  mkdir -p "$work"
  status "$CURRENT_LABEL: computing the dm-verity hash tree of the OEM partition ($((fs_bytes / 1048576)) MiB)"
  digest=$(verity_format "$device" "$blocks" "$fs_bytes" "$work") || digest=""
  [[ $digest =~ ^[0-9a-f]{64}$ ]] || fail "$CURRENT_LABEL" "could not write the dm-verity hash tree to the OEM partition"
  rm -rf "$work"
  local grub
  mount_efi_partition grub
  grub_append_oem_verity "$grub" "$partuuid" "$sectors" "$blocks" "$digest"
  grub_add_kernel_argument "$grub" "$OEM_MOUNT_MASK"
  grub_add_kernel_argument "$grub" "$UPDATE_ENGINE_MASK"
  release_efi_partition
  status "$CURRENT_LABEL: OEM sealed (root digest $digest); it appears as /dev/dm-1, mount it read-only on /usr/share/oem"
}

# grub_append_oem_verity GRUB_CFG PARTUUID SECTORS BLOCKS DIGEST: adds the oemroot device to every
# dm="<count> ..." table (count + 1, the device appended after a comma, in Chrome OS's syntax) and to
# every dm-mod.create="..." (appended after a semicolon, in the kernel's syntax). Lines that have
# oemroot already are left alone.
grub_append_oem_verity() {
  local grub=$1 uuid=$2 sectors=$3 blocks=$4 digest=$5 line out="" count
  local chromeos="oemroot none ro 1,0 $sectors verity payload=PARTUUID=$uuid hashtree=PARTUUID=$uuid hashstart=$sectors alg=sha256 root_hexdigest=$digest"
  local kernel="oemroot,,,ro,0 $sectors verity 1 PARTUUID=$uuid PARTUUID=$uuid $VERITY_BLOCK $VERITY_BLOCK $blocks $blocks sha256 $digest -"
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line != *oemroot* && $line =~ ^(.*\ dm=\")([0-9]+)\ ([^\"]*)(\".*)$ ]]; then
      count=$((BASH_REMATCH[2] + 1))
      line="${BASH_REMATCH[1]}$count ${BASH_REMATCH[3]},$chromeos${BASH_REMATCH[4]}"
    fi
    if [[ $line != *oemroot* && $line =~ ^(.*\ dm-mod\.create=\")([^\"]*)(\".*)$ ]]; then
      line="${BASH_REMATCH[1]}${BASH_REMATCH[2]};$kernel${BASH_REMATCH[3]}"
    fi
    out+="$line"$'\n'
  done <"$grub"
  printf '%s' "$out" >"$grub.new"
  mv -f "$grub.new" "$grub"
}
