# shellcheck shell=bash
# How a run ends: exactly one final marker (BuildSucceeded or BuildFailed) and then a power off, or a
# reboot that a step asked for. Nothing is printed after the final marker.

# Label of what is under way ("setup", "step 2/3 runScript install.sh", "finish"), for BuildFailed.
CURRENT_LABEL=setup
# Set once the run has decided how it ends, so the exit trap stays quiet.
RUN_ENDED=false
# The provisioner's own shell (set by main). Subshells (pipeline elements, command substitutions)
# can run the EXIT trap too when the system's SIGTERM kills them; only this shell ends the run.
PROVISIONER_PID=
# Commands that undo temporary arrangements (mounts, credential files) if a step fails midway.
CLEANUP_HOOKS=()

add_cleanup_hook() {
  CLEANUP_HOOKS+=("$1")
}

remove_cleanup_hook() {
  local hook kept=()
  for hook in "${CLEANUP_HOOKS[@]}"; do
    [[ $hook == "$1" ]] || kept+=("$hook")
  done
  CLEANUP_HOOKS=("${kept[@]}")
}

run_cleanup_hooks() {
  local hook
  for hook in "${CLEANUP_HOOKS[@]}"; do
    "$hook" || true
  done
  CLEANUP_HOOKS=()
}

# fail LABEL REASON: ends the build as failed: BuildFailed, then power off after the bounded wait
# that lets the orchestrator read the serial port (it may also delete the VM earlier).
fail() {
  local line
  line="$(one_line "$1"): $(one_line "$2")"
  RUN_ENDED=true
  run_cleanup_hooks
  state_mark_failed "$line" || true
  end_with_failure "$line"
}

# repeat_failure LINE: the machine was started again after a failure; say it again and power off.
repeat_failure() {
  RUN_ENDED=true
  end_with_failure "$1"
}

end_with_failure() {
  flush_stderr_prefixer
  printf '%s %s\n' "$MARKER_FAILED" "$1"
  sleep "$FAILURE_SHUTDOWN_SECONDS"
  poweroff
  exit 1
}

# succeed: BuildSucceeded, then wait for the orchestrator's acknowledgement (so it has read the line
# before the serial port goes away with the VM), then power off, acknowledged or not.
succeed() {
  RUN_ENDED=true
  flush_stderr_prefixer
  printf '%s build %s: all %d steps done, machine cleaned for capture\n' "$MARKER_SUCCEEDED" "$BUILD_ID" "$STEP_COUNT"
  wait_for_ack || true
  poweroff
  exit 0
}

# reboot_for_step [WHAT-NEXT]: a step asked for a reboot; the run started at the next boot resumes.
# WHAT-NEXT says what that run does (default: the next step; a disk layout's stages say their own).
reboot_for_step() {
  status "rebooting, as the step asked; ${1:-the build resumes with the next step after the reboot}"
  RUN_ENDED=true
  flush_stderr_prefixer
  reboot
  exit 0
}

# on_exit: the shell is exiting without having ended the run (a bug, or a command failing under
# set -e): report it as a failure of what was under way.
on_exit() {
  local status=$?
  # A subshell dying (the unit's SIGTERM reaches the whole process group) is not the run ending:
  # the provisioner's shell sees the failed command, or runs on_terminate, itself.
  [[ $BASHPID == "$PROVISIONER_PID" ]] || return 0
  [[ $RUN_ENDED == false ]] || return 0
  fail "$CURRENT_LABEL" "the provisioner stopped unexpectedly (exit status $status)"
}

# on_terminate: systemd stops the unit because the machine shuts down or reboots (for instance a
# script ran `reboot` itself). Say nothing final: the next run finds the step interrupted and fails
# it clearly; a second final marker would confuse the orchestrator.
on_terminate() {
  # In a subshell the signal only ends the subshell; the provisioner's shell has its own trap.
  [[ $BASHPID == "$PROVISIONER_PID" ]] || exit 143
  # After the final marker (waiting for the acknowledgement or to power off) nothing more is said.
  [[ $RUN_ENDED == false ]] || exit 143
  RUN_ENDED=true
  status "stopped by the system while running: $CURRENT_LABEL"
  exit 143
}
