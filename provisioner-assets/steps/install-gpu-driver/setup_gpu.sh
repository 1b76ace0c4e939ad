#!/bin/bash
# Loads the NVIDIA driver that preloaded-cos-image's installGpuDriver step installed when the image
# was built; run it at every boot, as root (the kernel modules do not survive a reboot). Written
# into the image as <installDir>/setup_gpu.sh from a template (provisioner-assets/steps/
# install-gpu-driver/setup_gpu.sh, its quoted placeholders filled in), next to the unit
# preloaded-cos-image-gpu.service that runs it. COS's /etc is a tmpfs, so that unit is not enabled
# in the image: an instance's cloud-init links and starts it at every boot (see installGpuDriver in
# the README):
#   #cloud-config
#   bootcmd:
#     - systemctl link <installDir>/preloaded-cos-image-gpu.service
#     - systemctl start --no-block preloaded-cos-image-gpu.service
# `cos-extensions install gpu` finds the driver cached in the install directory (same version, same
# COS release) and loads its modules without downloading or building anything; if the release
# changed (an auto-update), it installs the driver again, which needs the network.
set -euo pipefail

# PCI_ROOT: the root prefix, for tests only (as in the provisioner).
readonly root="${PCI_ROOT:-}"
readonly install_dir='{{INSTALL_DIR}}'
readonly version='{{VERSION}}'

args=(install gpu --)
[[ -z $version || $version == default ]] || args+=("-version=$version")
args+=("-host-dir=$root$install_dir")
cos-extensions "${args[@]}"

# The driver's tools (nvidia-smi, ...) run from the install directory, which COS mounts noexec.
if ! mountpoint -q "$root$install_dir"; then
  mount --bind "$root$install_dir" "$root$install_dir"
fi
mount -o remount,exec "$root$install_dir"
"$root$install_dir/bin/nvidia-smi"
