# shellcheck shell=bash
# Sourced by the ctr and docker stubs: while the stub runs (in the middle of a pull or a login), it
# looks for the secrets listed in secrets.txt beside $STUB_CALLS (one a line; a file outside the
# sandbox root, named by no environment variable, so that no environment carries them) in the
# command line and the environment of every process it may read, itself included, and appends to
# secret-scans.log beside it one "scan <command>" line, then one "hit <command> <file> <command
# line>" line for each /proc file that holds one. Without secrets.txt it does nothing.
scan_for_secrets() {
  local secrets="${STUB_CALLS%/*}/secrets.txt" log="${STUB_CALLS%/*}/secret-scans.log"
  [[ -f $secrets ]] || return 0
  local file command_line
  printf 'scan %s\n' "${0##*/}" >>"$log"
  # One grep over every file: its own command line names no secret.
  while IFS= read -r file; do
    command_line=$(tr '\0' ' ' <"${file%/*}/cmdline" 2>/dev/null) || command_line="?"
    printf 'hit %s %s %s\n' "${0##*/}" "$file" "$command_line" >>"$log"
  done < <(grep -laF -f "$secrets" /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null || true)
}
