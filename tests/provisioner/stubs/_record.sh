# shellcheck shell=bash
# Sourced by every stub: appends one line to $STUB_CALLS (a file outside the sandbox root, standing
# for the outside world): the command name and its arguments, separated by the 0x1f character.
record_call() {
  local IFS=$'\x1f'
  printf '%s\n' "${0##*/}${IFS}$*" >>"$STUB_CALLS"
}
