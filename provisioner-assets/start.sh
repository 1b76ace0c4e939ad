#!/bin/bash
# Gets the CIDATA tree, then hands over to the provisioner on it. Small builds carry the tree
# in instance metadata (unpacked onto a tmpfs where the disk would be mounted); large or secret
# builds name an object in the scratch bucket, fetched with the VM's service-account token and
# checked against the size and SHA-256 in metadata before it is unpacked the same way. Where that
# fails (no access, no route), or when the build was given one, a CIDATA disk is attached instead,
# which can be well after boot.
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
readonly fetch_key='{{FETCH_CIDATA_KEY}}'
readonly fetch_value="$root/run/preloaded-cos-image/cidata-fetch"
readonly fetched_archive="$root/run/preloaded-cos-image/cidata.tar.gz"
readonly token_file="$root/run/preloaded-cos-image/token.json"
# Without a route to Cloud Storage, connecting times out: give up after this, and use the disk.
readonly connect_seconds=10
# The orchestrator uploads the object while the VM boots: a 404 is retried this long.
readonly object_wait_seconds=300

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

# metadata_get PATH FILE: stores the value at PATH (below computeMetadata/v1) in FILE and sets
# metadata_code to the HTTP status: 200, or 404 for a key that is not set. Gives up when the
# server does not answer. (A variable, not output: give_up must not run in a subshell.)
metadata_code=""
metadata_get() {
  local attempt
  metadata_code=""
  mkdir -p "${2%/*}"
  for attempt in {1..30}; do
    metadata_code=$(curl -sS -o "$2" -w '%{http_code}' -H 'Metadata-Flavor: Google' \
      "$metadata_url/$1" 2>/dev/null) && break
    metadata_code="" && sleep 1
  done
  case $metadata_code in
  200 | 404) ;;
  *) give_up "the metadata server did not answer for ${1##*/} (HTTP ${metadata_code:-none} after $attempt tries)" ;;
  esac
}

# Succeeds with the tree unpacked at the mount point when the metadata carries it; fails
# (quietly) when it does not, so the disk is awaited instead.
unpack_inline_cidata() {
  local output
  metadata_get "instance/attributes/$inline_key" "$inline_archive"
  if [[ $metadata_code != 200 ]]; then
    rm -f "$inline_archive"
    return 1
  fi
  mkdir -p "$mount_point"
  mount -t tmpfs -o mode=0700 preloaded-cos-image-cidata "$mount_point"
  if ! output=$(base64 -d "$inline_archive" | tar -xzf - -C "$mount_point" 2>&1); then
    give_up "could not unpack the CIDATA tree from metadata: ${output//$'\n'/ }"
  fi
  rm -f "$inline_archive"
  mount -o remount,ro "$mount_point"
  [[ -f $entry ]] || give_up "the CIDATA tree in metadata holds no provisioner/provisioner.sh"
}

# Says why the fetch failed (the orchestrator then attaches the CIDATA disk) and fails.
fetch_failed() {
  rm -f "$fetched_archive" "$token_file"
  echo "{{MARKER_STATUS}} {{CIDATA_FETCH_FAILED}} $1; waiting for the CIDATA disk"
  return 1
}

# Succeeds with the tree fetched from Cloud Storage, verified and unpacked at the mount point;
# fails when the metadata names no object (quietly) or the object cannot be used (reported).
fetch_cidata() {
  local url size digest token code error actual_size actual_digest output started=$SECONDS
  metadata_get "instance/attributes/$fetch_key" "$fetch_value"
  [[ $metadata_code == 200 ]] || return 1
  read -r url size digest <"$fetch_value" || true
  rm -f "$fetch_value"
  [[ $url && $size =~ ^[0-9]+$ && $digest =~ ^[0-9a-f]{64}$ ]] ||
    fetch_failed "the fetch metadata is malformed" || return 1
  metadata_get "instance/service-accounts/default/token" "$token_file"
  code=$metadata_code
  token=$(<"$token_file")
  rm -f "$token_file"
  [[ $code == 200 && $token =~ \"access_token\":\ *\"([^\"]+)\" ]] ||
    fetch_failed "no service-account token (HTTP $code)" || return 1
  token=${BASH_REMATCH[1]}
  for (( ; ; )); do
    # The token goes in a header read from stdin: never on a command line, never in the URL.
    if ! code=$(curl -sS --connect-timeout "$connect_seconds" -o "$fetched_archive" \
      -w '%{http_code}' -H @- "$url" 2>&1 <<<"Authorization: Bearer $token"); then
      error=${code##*curl: }
      fetch_failed "Cloud Storage unreachable (${error//$'\n'/ })" || return 1
    fi
    if [[ $code != 404 ]] || ((SECONDS - started >= object_wait_seconds)); then break; fi
    sleep 1
  done
  [[ $code == 200 ]] || fetch_failed "HTTP $code from Cloud Storage" || return 1
  actual_size=$(stat -c %s "$fetched_archive")
  actual_digest=$(sha256sum "$fetched_archive")
  actual_digest=${actual_digest%% *}
  if [[ $actual_size != "$size" || $actual_digest != "$digest" ]]; then
    fetch_failed "the object is $actual_size bytes with sha256 $actual_digest, not the $size bytes with sha256 $digest announced" || return 1
  fi
  mkdir -p "$mount_point"
  mount -t tmpfs -o mode=0700 preloaded-cos-image-cidata "$mount_point"
  if ! output=$(tar -xzf "$fetched_archive" -C "$mount_point" 2>&1) || [[ ! -f $entry ]]; then
    umount "$mount_point"
    fetch_failed "could not unpack the fetched CIDATA tree: ${output//$'\n'/ }" || return 1
  fi
  rm -f "$fetched_archive"
  mount -o remount,ro "$mount_point"
  echo "{{MARKER_STATUS}} {{CIDATA_FETCHED}} ($size bytes, sha256 verified)"
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
if [[ ! -f $entry ]] && ! unpack_inline_cidata && ! fetch_cidata; then
  wait_for_cidata
  mount_cidata
fi
export PCI_BUILD_ID="$build_id"
exec bash "$entry"
