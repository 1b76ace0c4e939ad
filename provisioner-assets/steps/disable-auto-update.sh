# shellcheck shell=bash
# disableAutoUpdate: as COS Customizer does, adds systemd.mask=update-engine.service to the kernel
# command line of every COS boot entry (the lines with cros_efi in efi/boot/grub.cfg on the EFI system
# partition). Idempotent: entries that already mask it are left alone.

readonly UPDATE_ENGINE_MASK=systemd.mask=update-engine.service

step_disable_auto_update() {
  local device grub entries
  device=$(find_efi_partition) || fail "$CURRENT_LABEL" "no EFI-SYSTEM partition found"
  mkdir -p "$EFI_MOUNT"
  run_logged mount -t vfat "$device" "$EFI_MOUNT" || fail "$CURRENT_LABEL" "could not mount the EFI partition $device"
  add_cleanup_hook release_efi_partition
  grub="$EFI_MOUNT/efi/boot/grub.cfg"
  [[ -f $grub ]] || fail "$CURRENT_LABEL" "the EFI partition has no efi/boot/grub.cfg"
  entries=$(grep -c -w cros_efi "$grub" || true)
  ((entries > 0)) || fail "$CURRENT_LABEL" "efi/boot/grub.cfg has no COS boot entry (cros_efi)"
  sed -i -e "/$UPDATE_ENGINE_MASK/!s/\\bcros_efi\\b/& $UPDATE_ENGINE_MASK/" "$grub"
  sync
  release_efi_partition
  status "update-engine.service is masked in the $entries COS boot entries"
}

# find_efi_partition: prints the device of the GPT partition named EFI-SYSTEM (COS's layout), found
# by name rather than as /dev/sda12 so NVMe boot disks work too.
find_efi_partition() {
  local device
  device=$(blkid -o device -t PARTLABEL=EFI-SYSTEM 2>/dev/null | head -n 1)
  if [[ -z $device && -e $ROOT/dev/disk/by-partlabel/EFI-SYSTEM ]]; then
    device="$ROOT/dev/disk/by-partlabel/EFI-SYSTEM"
  fi
  [[ -n $device ]] || return 1
  printf '%s' "$device"
}

release_efi_partition() {
  remove_cleanup_hook release_efi_partition
  run_logged umount "$EFI_MOUNT" || status "warning: could not unmount the EFI partition"
  rmdir "$EFI_MOUNT" 2>/dev/null || true
}
