# shellcheck shell=bash
# Reads the provisioner config: a directory tree on CIDATA with one value per file (layout in
# components/guest/provisionerConfig.ts). A file holds the value's bytes exactly, without added newline, so
# no parser is needed and any value (commas, quotes, newlines) arrives intact. Only NUL bytes cannot
# be carried, since bash strings cannot hold them.

CONFIG_DIR=""

# config_error TEXT: the config is unusable; fails the current step (or setup).
config_error() {
  fail "$CURRENT_LABEL" "invalid config: $1"
}

# config_read VAR PATH: sets VAR to the whole content of config file PATH (relative to CONFIG_DIR).
# Its locals have unlikely names: VAR is set through dynamic scoping and must not be shadowed.
config_read() {
  local __config_file="$CONFIG_DIR/$2" __config_value=""
  [[ -f $__config_file ]] || config_error "missing $2"
  IFS= read -r -d '' __config_value <"$__config_file" || true
  printf -v "$1" '%s' "$__config_value"
}

# config_int VAR PATH: like config_read, for a non-negative decimal integer.
config_int() {
  config_read "$1" "$2"
  [[ ${!1} =~ ^[0-9]{1,18}$ ]] || config_error "$2 is not a whole number"
  printf -v "$1" '%d' "$((10#${!1}))"
}

# config_bool VAR PATH: like config_read, for "true" or "false".
config_bool() {
  config_read "$1" "$2"
  [[ ${!1} == true || ${!1} == false ]] || config_error "$2 is neither true nor false"
}

# config_list ARRAY PATH: sets ARRAY to the values PATH/0 .. PATH/<count - 1>.
config_list() {
  local -n list_ref=$1
  local count index value
  config_int count "$2/count"
  list_ref=()
  for ((index = 0; index < count; index++)); do
    config_read value "$2/$index"
    list_ref+=("$value")
  done
}

# Build-wide settings, read once at start (CIDATA is unmounted before the acknowledgement wait).
# shellcheck disable=SC2034 # used by the files that source this one
{
  BUILD_ID=""
  ACK_KEY=""
  ACK_TIMEOUT_SECONDS=0
  FAILURE_SHUTDOWN_SECONDS=300
  # The boot disk size the build ends with (GB), and the bound on waiting for a resize asked for with
  # MARKER_DISK_RESIZE (config/disk-size-gb, config/disk-resize-timeout-seconds).
  DISK_SIZE_GB=0
  DISK_RESIZE_TIMEOUT_SECONDS=600
  STEP_COUNT=0
}

# config_load_early: what is needed before the config is known to be usable, best effort: BUILD_ID
# ("unknown" when unreadable: the protocol line needs something) and FAILURE_SHUTDOWN_SECONDS (so
# that even a refused config powers off after the configured wait).
config_load_early() {
  local value
  BUILD_ID=unknown
  value=$(config_peek build-id)
  [[ $value =~ ^[A-Za-z0-9._-]{1,128}$ ]] && BUILD_ID=$value
  value=$(config_peek failure-shutdown-seconds)
  # shellcheck disable=SC2034 # read by lib/lifecycle.sh
  [[ $value =~ ^[0-9]{1,9}$ ]] && FAILURE_SHUTDOWN_SECONDS=$((10#$value))
  return 0
}

# config_peek PATH: prints the content of a config file, nothing when it is missing.
config_peek() {
  [[ -f $CONFIG_DIR/$1 ]] && cat "$CONFIG_DIR/$1"
  return 0
}

# config_check_build: the config speaks our protocol and belongs to the build this VM was made for.
config_check_build() {
  local protocol
  [[ $BUILD_ID != unknown ]] || config_error "build-id is missing or malformed"
  config_read protocol protocol
  [[ $protocol == "$PROTOCOL_VERSION" ]] ||
    config_error "protocol $(one_line "$protocol") is not this provisioner's protocol $PROTOCOL_VERSION"
  if [[ -n ${PCI_BUILD_ID:-} && $PCI_BUILD_ID != "$BUILD_ID" ]]; then
    config_error "the CIDATA disk is for build $BUILD_ID, but this VM runs build $PCI_BUILD_ID"
  fi
}

# config_load_settings: the rest of the build-wide settings.
config_load_settings() {
  config_int FAILURE_SHUTDOWN_SECONDS failure-shutdown-seconds
  config_int ACK_TIMEOUT_SECONDS ack-timeout-seconds
  config_read ACK_KEY ack-key
  [[ $ACK_KEY =~ ^[A-Za-z0-9_-]{1,127}$ ]] || config_error "ack-key is not a metadata key"
  config_int DISK_SIZE_GB disk-size-gb
  config_int DISK_RESIZE_TIMEOUT_SECONDS disk-resize-timeout-seconds
  config_int STEP_COUNT steps/count
}
