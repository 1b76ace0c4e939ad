# shellcheck shell=bash
# Serial output. stdout is serial port 3; every line carries exactly one protocol marker.

# one_line TEXT: TEXT with control characters (newlines included) turned into spaces, so that a
# user-provided value can never start a line of its own.
one_line() {
  local text=$1
  printf '%s' "${text//[[:cntrl:]]/ }"
}

# status TEXT: a progress line.
status() {
  printf '%s %s\n' "$MARKER_STATUS" "$(one_line "$1")"
}

# prefix_lines: copies stdin to stdout with "BuildStatus: " before every line, including a last line
# without newline. A carriage return also starts a new line (progress meters), so no output can hide
# a marker behind one.
# It always runs in a subshell (a pipeline element or a process substitution) and ignores SIGTERM:
# when systemd stops the unit, it drains what the dying writers left and ends at end of file. (A
# prefixer killed by the signal would also keep bash from running the provisioner's TERM trap.)
prefix_lines() {
  trap '' TERM
  local line
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    printf '%s %s\n' "$MARKER_STATUS" "${line//$'\r'/$'\n'"$MARKER_STATUS "}"
  done
}

# run_logged COMMAND...: runs COMMAND with its stdout and stderr as status lines; returns its status.
run_logged() {
  if "$@" 2>&1 | prefix_lines; then
    return 0
  else
    return "${PIPESTATUS[0]}"
  fi
}

# The provisioner's own stderr (messages of commands not run through run_logged) also becomes status
# lines, through a background prefixer that is flushed before the final marker.
STDERR_PREFIXER_PID=""

start_stderr_prefixer() {
  exec 2> >(prefix_lines)
  STDERR_PREFIXER_PID=$!
}

flush_stderr_prefixer() {
  [[ -n $STDERR_PREFIXER_PID ]] || return 0
  exec 2>/dev/null
  wait "$STDERR_PREFIXER_PID" 2>/dev/null || true
  STDERR_PREFIXER_PID=""
}
