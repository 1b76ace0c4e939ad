# shellcheck shell=bash
# COS's kernel command lines: efi/boot/grub.cfg on the EFI-SYSTEM partition, one `linux` line with
# cros_efi per boot entry. Shared by disableAutoUpdate and sealOemPartition.

# mount_efi_partition VAR: mounts EFI-SYSTEM on EFI_MOUNT and sets VAR to its grub.cfg; fails the
# step when the partition or a COS boot entry is missing.
mount_efi_partition() {
  local device
  partition_device device EFI-SYSTEM || fail "$CURRENT_LABEL" "no EFI-SYSTEM partition found"
  mkdir -p "$EFI_MOUNT"
  run_logged mount -t vfat "$device" "$EFI_MOUNT" || fail "$CURRENT_LABEL" "could not mount the EFI partition $device"
  add_cleanup_hook release_efi_partition
  printf -v "$1" '%s' "$EFI_MOUNT/efi/boot/grub.cfg"
  [[ -f $EFI_MOUNT/efi/boot/grub.cfg ]] || fail "$CURRENT_LABEL" "the EFI partition has no efi/boot/grub.cfg"
  grep -q -w cros_efi "$EFI_MOUNT/efi/boot/grub.cfg" ||
    fail "$CURRENT_LABEL" "efi/boot/grub.cfg has no COS boot entry (cros_efi)"
}

release_efi_partition() {
  remove_cleanup_hook release_efi_partition
  sync
  run_logged umount "$EFI_MOUNT" || status "warning: could not unmount the EFI partition"
  rmdir "$EFI_MOUNT" 2>/dev/null || true
}

# grub_add_kernel_argument GRUB_CFG ARGUMENT: inserts ARGUMENT right after cros_efi in every COS
# boot entry that does not have it yet (as COS Customizer does), so a second run changes nothing.
grub_add_kernel_argument() {
  sed -i -e "/$2/!s/\\bcros_efi\\b/& $2/" "$1"
}

# grub_cros_entries GRUB_CFG: prints how many COS boot entries grub.cfg has.
grub_cros_entries() {
  grep -c -w cros_efi "$1" || true
}
