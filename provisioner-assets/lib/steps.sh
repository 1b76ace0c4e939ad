# shellcheck shell=bash
# Runs the configured steps in order, from the first one not done yet. Every step is bracketed by
# state marks, so a step is never started twice (see lib/state.sh).

# Set by a step that finished and wants the machine rebooted before the next one.
STEP_WANTS_REBOOT=false

run_steps() {
  local next index
  state_next_step next
  if ((next > 0 && next < STEP_COUNT)); then
    status "resuming with step $((next + 1)) of $STEP_COUNT"
  fi
  for ((index = next; index < STEP_COUNT; index++)); do
    run_step "$index"
  done
}

# run_step INDEX
run_step() {
  local index=$1 type
  CURRENT_LABEL="step $((index + 1))/$STEP_COUNT"
  config_read type "steps/$index/type"
  set_step_label "$index" "$type"
  state_mark_running "$CURRENT_LABEL"
  status "$CURRENT_LABEL: started"
  STEP_WANTS_REBOOT=false
  case $type in
  runScript) step_run_script "$index" ;;
  installGpuDriver) step_install_gpu_driver "$index" ;;
  preloadImages) step_preload_images "$index" ;;
  disableAutoUpdate) step_disable_auto_update ;;
  extendOemPartition) step_extend_oem_partition ;;
  sealOemPartition) step_seal_oem_partition ;;
  reclaimRootPartition) step_reclaim_root_partition ;;
  *) config_error "unknown step type '$(one_line "$type")'" ;;
  esac
  state_mark_done "$((index + 1))"
  status "$CURRENT_LABEL: done"
  if [[ $STEP_WANTS_REBOOT == true ]]; then
    reboot_for_step
  fi
}

# set_step_label INDEX TYPE: "step 2/3 runScript install.sh", "step 3/3 preloadImages".
set_step_label() {
  local script
  CURRENT_LABEL="step $(($1 + 1))/$STEP_COUNT $2"
  if [[ $2 == runScript && -f $CONFIG_DIR/steps/$1/script ]]; then
    config_read script "steps/$1/script"
    CURRENT_LABEL+=" $(one_line "$script")"
  fi
}
