# shellcheck shell=bash
# disableAutoUpdate: as COS Customizer does, adds systemd.mask=update-engine.service to the kernel
# command line of every COS boot entry (the lines with cros_efi in efi/boot/grub.cfg on the EFI system
# partition). Idempotent: entries that already mask it are left alone. Like COS Customizer's, it also
# reclaims ROOT-A for the stateful partition: that happens in the disk layout, before the first step
# (steps/disk-layout/disk-layout.sh), since an image that never updates has no use for a second root.

readonly UPDATE_ENGINE_MASK=systemd.mask=update-engine.service

step_disable_auto_update() {
  local grub entries
  mount_efi_partition grub
  entries=$(grub_cros_entries "$grub")
  grub_add_kernel_argument "$grub" "$UPDATE_ENGINE_MASK"
  release_efi_partition
  status "update-engine.service is masked in the $entries COS boot entries"
}
