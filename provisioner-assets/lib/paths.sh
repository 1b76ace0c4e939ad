# shellcheck shell=bash
# shellcheck disable=SC2034 # constants for the files that source this one
# Where things live on the machine, and the only environment overrides the provisioner honours.
#
#   PCI_ROOT          Prefix for every absolute path the provisioner touches (default: empty, the real
#                     root). Tests point it at a sandbox directory; commands receive prefixed paths.
#   PCI_METADATA_URL  Base URL of the metadata server
#                     (default: http://metadata.google.internal/computeMetadata/v1).
#
# Set by the start script (start.sh, carried by the cloud-config), not meant for users:
#   PCI_BUILD_ID      Build id the VM was created for; the CIDATA config must carry the same one.
#   PCI_CIDATA_ROOT   Root of the CIDATA disk, passed from the first start to the relocated copy.

readonly ROOT="${PCI_ROOT:-}"
readonly METADATA_URL="${PCI_METADATA_URL:-http://metadata.google.internal/computeMetadata/v1}"

# Build state on the stateful partition: survives reboots, removed before capture.
readonly STATE_DIR="$ROOT/var/lib/.preloaded-cos-image"
readonly CONTEXT_DIR="$STATE_DIR/context"
# Per-boot scratch space in tmpfs: never part of the image.
readonly RUN_DIR="$ROOT/run/preloaded-cos-image"

readonly CIDATA_MOUNT="$ROOT/mnt/disks/cidata"
readonly SCRATCH_MOUNT="$ROOT/mnt/disks/scratch"
readonly EFI_MOUNT="$ROOT/mnt/disks/efi"
readonly SCRATCH_DEVICE="$ROOT/dev/disk/by-id/google-scratch"

# Product of preloadImages steps, kept on the image.
readonly IMAGES_MANIFEST="$ROOT/var/lib/preloaded-cos-image/images.json"

# What the cloud-config installs; removed before capture.
readonly UNIT_NAME="preloaded-cos-image.service"
readonly UNIT_FILE="$ROOT/etc/systemd/system/$UNIT_NAME"
readonly UNIT_WANTS_LINK="$ROOT/etc/systemd/system/multi-user.target.wants/$UNIT_NAME"
readonly START_SCRIPT_DIR="$ROOT/etc/preloaded-cos-image"
