#!/bin/bash
# The provisioner of preloaded-cos-image: runs the build steps inside the preload VM and reports on
# serial port 3 (its stdout and stderr, see the cloud-config's unit). Started as
#   bash <CIDATA>/provisioner/provisioner.sh
# Environment overrides: see lib/paths.sh.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
shopt -s inherit_errexit

provisioner_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Started from CIDATA: go on from a copy in tmpfs, so that nothing holds the CIDATA disk open when it
# is unmounted before capture. The copy knows CIDATA's root through PCI_CIDATA_ROOT.
if [[ -z ${PCI_CIDATA_ROOT:-} ]]; then
  export PCI_CIDATA_ROOT="${provisioner_dir%/*}"
  copy="${PCI_ROOT:-}/run/preloaded-cos-image/provisioner"
  rm -rf "$copy"
  mkdir -p "$copy"
  cp -R "$provisioner_dir/." "$copy/"
  exec bash "$copy/provisioner.sh"
fi

source "$provisioner_dir/lib/paths.sh"
source "$provisioner_dir/lib/protocol.sh"
source "$provisioner_dir/lib/log.sh"
source "$provisioner_dir/lib/json.sh"
source "$provisioner_dir/lib/config.sh"
source "$provisioner_dir/lib/state.sh"
source "$provisioner_dir/lib/lifecycle.sh"
source "$provisioner_dir/lib/metadata.sh"
source "$provisioner_dir/lib/mounts.sh"
source "$provisioner_dir/lib/secrets.sh"
source "$provisioner_dir/lib/clean.sh"
source "$provisioner_dir/lib/disk.sh"
source "$provisioner_dir/lib/grub.sh"
source "$provisioner_dir/lib/steps.sh"
# A step is steps/<step>.sh, or steps/<step>/<step>.sh beside the helpers that serve it alone; lib/
# holds what several files share.
source "$provisioner_dir/steps/run-script/script-registry-auth.sh"
source "$provisioner_dir/steps/run-script/run-script.sh"
source "$provisioner_dir/steps/install-gpu-driver/install-gpu-driver.sh"
source "$provisioner_dir/steps/preload-images/image-ref.sh"
source "$provisioner_dir/steps/preload-images/registry-auth.sh"
source "$provisioner_dir/steps/preload-images/preload-images.sh"
source "$provisioner_dir/steps/disk-layout/layout-arithmetic.sh"
source "$provisioner_dir/steps/disk-layout/disk-resize.sh"
source "$provisioner_dir/steps/disk-layout/disk-layout.sh"
source "$provisioner_dir/steps/disable-auto-update/disable-auto-update.sh"
source "$provisioner_dir/steps/extend-oem-partition/extend-oem-partition.sh"
source "$provisioner_dir/steps/reclaim-root-partition/reclaim-root-partition.sh"
source "$provisioner_dir/steps/seal-oem-partition/verity-hash-tree.sh"
source "$provisioner_dir/steps/seal-oem-partition/seal-oem-partition.sh"
source "$provisioner_dir/lib/main.sh"

main
