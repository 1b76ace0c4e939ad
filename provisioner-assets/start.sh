#!/bin/bash
# Gets the CIDATA tree, then hands over to the provisioner on it. Small builds carry the tree
# in instance metadata (unpacked onto a tmpfs where the disk would be mounted); the others get
# a CIDATA disk, attached once its image is imported, which can be well after boot.
set -euo pipefail

readonly root="${PCI_ROOT:-}"
readonly build_id='{{BUILD_ID}}'
readonly device="$root/dev/disk/by-label/CIDATA"
readonly mount_point="$root/mnt/disks/cidata"
readonly entry="$mount_point/provisioner/provisioner.sh"
readonly wait_seconds={{CIDATA_WAIT_SECONDS}}
readonly failure_shutdown_seconds={{FAILURE_SHUTDOWN_SECONDS}}
readonly metadata_url="${PCI_METADATA_URL:-http://metadata.google.internal/computeMetadata/v1}"
readonly inline_key='{{INLINE_CIDATA_KEY}}'
readonly inline_archive="$root/run/preloaded-cos-image/cidata.b64"

give_up() {
  echo "{{MARKER_FAILED}} setup: $1"
  sleep "$failure_shutdown_seconds"
  poweroff
  exit 1
}

wait_for_cidata() {
  local started=$SECONDS next_report=$SECONDS
  until [[ -e $device ]]; do
    if ((SECONDS - started >= wait_seconds)); then
      give_up "no CIDATA disk appeared within ${wait_seconds}s"
    fi
    if ((SECONDS >= next_report)); then
      echo "{{MARKER_STATUS}} waiting for the CIDATA disk ($((SECONDS - started))s of at most ${wait_seconds}s)"
      next_report=$((SECONDS + 60))
    fi
    sleep 1
  done
}

# Succeeds with the tree unpacked at the mount point when the metadata carries it; fails
# (quietly) when it does not, so the disk is awaited instead.
unpack_inline_cidata() {
  local code="" attempt output
  mkdir -p "${inline_archive%/*}"
  for attempt in {1..30}; do
    code=$(curl -sS -o "$inline_archive" -w '%{http_code}' -H 'Metadata-Flavor: Google' \
      "$metadata_url/instance/attributes/$inline_key" 2>/dev/null) && break
    code="" && sleep 1
  done
  case $code in
  200) ;;
  404) rm -f "$inline_archive" && return 1 ;;
  *) give_up "the metadata server did not answer for $inline_key (HTTP ${code:-none} after $attempt tries)" ;;
  esac
  mkdir -p "$mount_point"
  mount -t tmpfs -o mode=0700 preloaded-cos-image-cidata "$mount_point"
  if ! output=$(base64 -d "$inline_archive" | tar -xzf - -C "$mount_point" 2>&1); then
    give_up "could not unpack the CIDATA tree from metadata: ${output//$'\n'/ }"
  fi
  rm -f "$inline_archive"
  mount -o remount,ro "$mount_point"
  [[ -f $entry ]] || give_up "the CIDATA tree in metadata holds no provisioner/provisioner.sh"
}

mount_cidata() {
  local output
  [[ -f $entry ]] && return 0
  mkdir -p "$mount_point"
  if ! output=$(mount -o ro -t vfat "$device" "$mount_point" 2>&1); then
    give_up "could not mount the CIDATA disk: ${output//$'\n'/ }"
  fi
  [[ -f $entry ]] || give_up "the CIDATA disk holds no provisioner/provisioner.sh"
}

echo "{{MARKER_PROTOCOL}} {{PROTOCOL_VERSION}} build=$build_id stage=boot"
if [[ ! -f $entry ]] && ! unpack_inline_cidata; then
  wait_for_cidata
  mount_cidata
fi
export PCI_BUILD_ID="$build_id"
exec bash "$entry"
