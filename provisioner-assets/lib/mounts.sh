# shellcheck shell=bash
# Mounts that last for one run of the provisioner (mounts do not survive a reboot, so every run
# makes them again) and the unmounts before capture.

# mount_run_arrangements: the build context becomes executable (COS mounts /var noexec, which would
# break scripts that run `./helper.sh`), and /root becomes a tmpfs so credentials and dotfiles that
# scripts leave in root's home never reach the image (as COS Customizer does).
mount_run_arrangements() {
  if ! run_logged mount --bind "$CONTEXT_DIR" "$CONTEXT_DIR" ||
    ! run_logged mount -o remount,bind,exec "$CONTEXT_DIR"; then
    fail setup "could not make the build context executable"
  fi
  mkdir -p "$ROOT/root"
  run_logged mount -t tmpfs -o mode=0700 tmpfs "$ROOT/root" || fail setup "could not mount a tmpfs on /root"
}

# unmount_run_arrangements: undoes mount_run_arrangements (failures only warn: capture goes on).
unmount_run_arrangements() {
  run_logged umount "$ROOT/root" || status "warning: could not unmount the tmpfs on /root"
  run_logged umount "$CONTEXT_DIR" || status "warning: could not unmount the build context"
}

# unmount_cidata: the CIDATA disk is detached with the VM; unmount it and remove the mount points
# that the start script created (on images whose /mnt/disks is not a tmpfs).
unmount_cidata() {
  run_logged umount "$CIDATA_MOUNT" || status "warning: could not unmount the CIDATA disk"
  rmdir "$CIDATA_MOUNT" 2>/dev/null || true
  rmdir "$ROOT/mnt/disks" 2>/dev/null || true
}
