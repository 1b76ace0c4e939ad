# shellcheck shell=bash
# One run of the provisioner: from the protocol line to the final marker. Started once per boot by
# the cloud-config's unit, so a build that reboots has several runs; each resumes from the state.

CIDATA_ROOT=""

main() {
  CIDATA_ROOT=$PCI_CIDATA_ROOT
  # shellcheck disable=SC2034 # read by lib/config.sh
  CONFIG_DIR="$CIDATA_ROOT/config"
  export -n PCI_CIDATA_ROOT
  # shellcheck disable=SC2034 # read by lib/lifecycle.sh
  PROVISIONER_PID=$BASHPID
  trap on_exit EXIT
  trap on_terminate TERM
  start_stderr_prefixer
  config_load_early
  printf '%s %s build=%s\n' "$MARKER_PROTOCOL" "$PROTOCOL_VERSION" "$BUILD_ID"
  config_check_build
  config_load_settings
  state_check_resumable
  if ! state_exists; then
    status "build $BUILD_ID: $STEP_COUNT step(s); copying the build context"
    state_init
  fi
  # Before the first step (it may reboot several times): the partitions the disk-layout steps need.
  prepare_disk_layout
  mount_run_arrangements
  run_steps
  # shellcheck disable=SC2034 # read by lib/lifecycle.sh
  CURRENT_LABEL=finish
  status "all steps done; cleaning the machine before capture"
  clean_machine
  unmount_cidata
  succeed
}
