#!/bin/bash
# Builds the local stand-in for Container-Optimized OS: a small Debian guest that boots under QEMU
# and behaves like a GCE guest as far as preloaded-cos-image needs (cloud-init reading user-data
# from a GCE-style metadata server, /dev/disk/by-id/google-<name>, serial ports, stand-ins for
# COS-only commands).
#
# The disk is laid out as a COS disk (see layout.sh): a GPT with STATE, KERN-A/B, ROOT-A/B, OEM,
# EFI-SYSTEM... at COS's sector offsets. Each filesystem is made as its own file and written into
# the disk at its offset, so no loop device and no host mount is needed for the disk itself.
#
# Output (in --output, which must exist and be empty):
#   disk.raw     the whole boot disk (10 GiB sparse raw GPT disk, COS's partition layout)
#   vmlinuz      the guest kernel (the same bytes as syslinux/vmlinuz.A on the EFI partition)
#   initrd.img   the stand-in initramfs (see rootfs/etc/initramfs-tools/): the launcher boots it
#                with the kernel it reads from the EFI partition
#   packages.txt the installed Debian packages and versions, for the record
#
# Needs root (debootstrap, chroot, mounts), debootstrap, e2fsprogs >= 1.43 (mkfs.ext4 -d), sgdisk
# (gdisk), mkfs.vfat (dosfstools) and mtools.
# Usage: build-guest-image.sh --output DIR --mirror URL --suite SUITE --size-mib N [--deb-cache DIR]
# (--size-mib is the size of the whole disk.)
set -euo pipefail

output=""
mirror=""
suite=""
size_mib=""
deb_cache=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --output) output="$2"; shift 2 ;;
    --mirror) mirror="$2"; shift 2 ;;
    --suite) suite="$2"; shift 2 ;;
    --size-mib) size_mib="$2"; shift 2 ;;
    --deb-cache) deb_cache="$2"; shift 2 ;;
    *) echo "build-guest-image: unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [[ -z "$output" || -z "$mirror" || -z "$suite" || -z "$size_mib" ]]; then
  echo "usage: $0 --output DIR --mirror URL --suite SUITE --size-mib N [--deb-cache DIR]" >&2
  exit 2
fi

recipe_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$output/rootfs"

# Everything debootstrap can install by itself. cloud-init is installed afterwards with apt-get,
# because `debootstrap --include=cloud-init` cannot resolve python3-cryptography's virtual
# dependency. dbus is here because systemd-logind needs it, and logind is what turns QEMU's ACPI
# power button (an API stop) into a clean power-off.
base_packages=(
  systemd systemd-sysv udev dbus kmod linux-image-amd64 initramfs-tools
  bash coreutils util-linux mount e2fsprogs dosfstools dmsetup fdisk
  ifupdown isc-dhcp-client iproute2 curl ca-certificates procps
)
# Installed with apt-get with cloud-init: what COS has and COS Customizer's provisioner calls
# (cgpt from vboot-utils; docker and containerd as COS ships them).
extra_packages=(cloud-init openssh-client cgpt docker.io containerd)

mounted=()
# Unmounts whatever this script mounted inside the chroot, innermost first, on every exit path.
unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -l "${mounted[$i]}" 2>/dev/null || true
  done
  mounted=()
}
trap unmount_all EXIT

# mount_into_chroot PATH MOUNT-ARGS...: mounts (MOUNT-ARGS name the source) at PATH inside the root.
mount_into_chroot() {
  local target="$root$1"
  shift
  mkdir -p "$target"
  mount "$@" "$target"
  mounted+=("$target")
}

step() { printf '\n=== %s: %s\n' "$(date +%T)" "$*"; }

step "debootstrap $suite from $mirror"
debootstrap_args=(--variant=minbase --merged-usr "--include=$(IFS=,; echo "${base_packages[*]}")")
if [[ -n "$deb_cache" ]]; then
  mkdir -p "$deb_cache"
  debootstrap_args+=("--cache-dir=$deb_cache")
fi
debootstrap "${debootstrap_args[@]}" "$suite" "$root" "$mirror"

step "install cloud-init inside the chroot"
mount_into_chroot /proc -t proc proc
mount_into_chroot /sys -t sysfs sysfs
mount_into_chroot /dev --bind /dev
mount_into_chroot /dev/pts --bind /dev/pts
if [[ -n "$deb_cache" ]]; then
  mkdir -p "$deb_cache/partial"
  mount_into_chroot /var/cache/apt/archives --bind "$deb_cache"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
# No service may start inside the build chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
in_chroot() { DEBIAN_FRONTEND=noninteractive LC_ALL=C chroot "$root" "$@"; }
in_chroot apt-get update -q
# openssh-client brings ssh-keygen: cloud-init then makes SSH host keys at every new instance, as
# sshd does on COS, so that a build's cleaning of /etc/ssh/ssh_host_* is put to the test.
in_chroot apt-get install -y -q --no-install-recommends "${extra_packages[@]}"
# shellcheck disable=SC2016 # dpkg-query expands ${Package}, not the shell.
in_chroot dpkg-query -W -f '${Package} ${Version}\n' >"$output/packages.txt"
rm -f "$root/usr/sbin/policy-rc.d"
# Unmount first: the package cache may be bind-mounted from the host and must survive this clean-up.
unmount_all
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/cache/apt/"*.bin

step "configure the guest like a GCE instance"
# Files that are the same for every build: cloud-init datasources, udev rules, COS stand-ins.
cp -a "$recipe_dir/rootfs/." "$root/"
chown -R root:root "$root/etc/cloud/cloud.cfg.d" "$root/etc/udev/rules.d" \
  "$root/usr/local/bin" "$root/etc/systemd/system" "$root/etc/initramfs-tools" \
  "$root/etc/docker" "$root/etc/containerd"

echo "pci-guest" >"$root/etc/hostname"
# cloud-init's GCE datasource talks to http://metadata.google.internal/; there is no DNS for that
# name here, so it resolves through /etc/hosts to GCE's own address, which QEMU forwards to the
# emulator's metadata server on the host.
cat >"$root/etc/hosts" <<'EOF'
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
169.254.169.254 metadata.google.internal metadata
EOF
# A fresh machine id on every first boot, as on a newly created instance.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
# Left empty: dhclient fills it from QEMU's DHCP server at boot.
: >"$root/etc/resolv.conf"
# Timers that would only cost boot time (and CPU under TCG) on a short-lived build machine.
# The COS update-engine stand-in runs like the real one, so a build can stop and mask it.
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/update-engine.service \
  "$root/etc/systemd/system/multi-user.target.wants/update-engine.service"
for unit in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
  e2scrub_reap.service fstrim.timer man-db.timer systemd-remount-fs.service modprobe@drm.service \
  modprobe@efi_pstore.service modprobe@fuse.service modprobe@loop.service systemd-binfmt.service \
  proc-sys-fs-binfmt_misc.automount; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
# Generators COS's systemd does not run: COS has no SysV init scripts and no rc.local (sysv,
# rc-local), is never resumed from hibernation (its command line has noresume), and names its root
# on the command line, so nothing is found by GPT type (gpt-auto). systemd runs every generator at
# boot and again at each `systemctl daemon-reload` (the product's cloud-config does one), and under
# software emulation each costs a process start. A generator linked to /dev/null is disabled.
mkdir -p "$root/etc/systemd/system-generators"
for generator in systemd-sysv-generator systemd-rc-local-generator \
  systemd-hibernate-resume-generator systemd-gpt-auto-generator; do
  ln -sf /dev/null "$root/etc/systemd/system-generators/$generator"
done
# docker starts on demand (docker.socket stays enabled), not at every boot: under software
# emulation dockerd adds seconds to each boot of a build that may not use it.
rm -f "$root/etc/systemd/system/multi-user.target.wants/docker.service"
# containerd runs from boot, as on COS: COS Customizer's provisioner (and ours) calls `ctr` before
# anything starts docker, and a GKE node's kubelet expects it. Its state is /var/lib/containerd, on
# STATE through /var (see rootfs/etc/fstab).
ln -sf /lib/systemd/system/containerd.service \
  "$root/etc/systemd/system/multi-user.target.wants/containerd.service"
# COS's /etc is writable but forgets everything at reboot, and its root is read-only: the stand-in
# initramfs (rootfs/etc/initramfs-tools/) overlays /etc on a tmpfs and mounts / read-only; rebuild it
# now that its configuration is in place.
in_chroot_plain() { LC_ALL=C chroot "$root" "$@"; }
mount_into_chroot /proc -t proc proc
mount_into_chroot /sys -t sysfs sysfs
mount_into_chroot /dev --bind /dev
in_chroot_plain update-initramfs -u -k all
unmount_all
rm -rf "$root/var/lib/apt/lists/"* "$root/var/log/"*.log "$root/var/cache/debconf/"*-old \
  "$root/var/lib/cloud"
mkdir -p "$root/var/lib/cloud"

step "extract kernel and initrd"
kernel="$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | tail -n 1)"
initrd="$(find "$root/boot" -maxdepth 1 -name 'initrd.img-*' | sort | tail -n 1)"
if [[ -z "$kernel" || -z "$initrd" ]]; then
  echo "build-guest-image: no kernel or initrd under $root/boot" >&2
  exit 1
fi
cp "$kernel" "$output/vmlinuz"
cp "$initrd" "$output/initrd.img"

step "lay out the COS disk (${size_mib} MiB, sparse)"
# shellcheck source=layout.sh
source "$recipe_dir/layout.sh"
build_cos_disk "$root" "$output" "$size_mib"
rm -rf "$root"
step "done"
