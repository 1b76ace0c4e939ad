# shellcheck shell=bash
# Build state on the stateful partition, so that a run started again after a reboot resumes at the
# right step. Files in STATE_DIR:
#   build-id    the build the state belongs to
#   next-step   index of the first step not yet done; written once setup is done
#   running     label of the step (or "setup") under way; present only while it runs, so finding
#               it at start means the machine went down in the middle of it
#   failed      "<label>: <reason>" of a failed build, repeated if the machine is started again
#   images.tsv  images pulled so far (see steps/preload-images/preload-images.sh)

# state_write NAME VALUE: writes a state file durably (a power cut must not lose a "running" mark).
state_write() {
  local file="$STATE_DIR/$1"
  printf '%s' "$2" >"$file.new"
  mv -f "$file.new" "$file"
  sync "$file" 2>/dev/null || sync
}

# state_read VAR NAME: sets VAR to the content of state file NAME ("" when absent).
state_read() {
  local __state_value=""
  if [[ -f $STATE_DIR/$2 ]]; then
    IFS= read -r -d '' __state_value <"$STATE_DIR/$2" || true
  fi
  printf -v "$1" '%s' "$__state_value"
}

state_exists() {
  [[ -f $STATE_DIR/next-step ]]
}

# state_mark_running LABEL / state_mark_done NEXT: bracket every step (and setup).
state_mark_running() {
  state_write running "$1"
}

state_mark_done() {
  state_write next-step "$1"
  rm -f "$STATE_DIR/running"
  sync "$STATE_DIR" 2>/dev/null || sync
}

state_mark_failed() {
  [[ -d $STATE_DIR ]] || return 0
  state_write failed "$1"
}

# state_check_resumable: refuses to go on after a failure or an interrupted step: a step never runs
# twice, because running half-done work again (a driver install, a script with side effects) can
# leave a broken image that looks fine.
state_check_resumable() {
  local failed running owner
  [[ -d $STATE_DIR ]] || return 0
  state_read owner build-id
  if [[ -n $owner && $owner != "$BUILD_ID" ]]; then
    fail setup "the boot disk holds the state of build $(one_line "$owner"), not of build $BUILD_ID"
  fi
  state_read failed failed
  if [[ -n $failed ]]; then
    repeat_failure "$failed"
  fi
  state_read running running
  if [[ -n $running ]]; then
    # shellcheck disable=SC2034 # read by lib/lifecycle.sh
    CURRENT_LABEL=$running
    fail "$running" "the machine restarted while this step was running, without the step asking for a reboot; it is not run a second time (a script that needs a reboot sets allowReboot and exits with status $REBOOT_EXIT_CODE)"
  fi
}

# state_init: creates the state and copies the build context from CIDATA to the stateful partition.
state_init() {
  local source="$CIDATA_ROOT/context"
  mkdir -p "$STATE_DIR"
  chmod 0700 "$STATE_DIR"
  state_write build-id "$BUILD_ID"
  state_mark_running setup
  rm -rf "$CONTEXT_DIR"
  mkdir -p "$CONTEXT_DIR"
  if [[ -d $source ]]; then
    run_logged cp -R "$source/." "$CONTEXT_DIR/" || fail setup "could not copy the build context from the CIDATA disk"
  fi
  state_mark_done 0
}

# state_next_step VAR: sets VAR to the index of the next step to run.
state_next_step() {
  local __state_next
  state_read __state_next next-step
  [[ $__state_next =~ ^[0-9]+$ ]] || fail setup "corrupt build state: next-step is '$(one_line "$__state_next")'"
  printf -v "$1" '%d' "$__state_next"
}
