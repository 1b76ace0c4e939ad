# shellcheck shell=bash
# runScript: `bash <script>` as root in the copied build context, with the configured environment.
#
# The environment values are secrets as far as the provisioner knows: they are read from CIDATA into
# memory, exported only in the subshell that becomes the script (never on a command line, so `ps`
# does not show them), never printed and never written anywhere.
# The script also gets access to Google's registries as the VM's service account (DOCKER_CONFIG,
# PCI_CONTAINERD_HOSTS_DIR): see script-registry-auth.sh.

RS_SCRIPT=""
RS_ALLOW_REBOOT=false
RS_ENV_NAMES=()
RS_ENV_VALUES=()

# load_run_script INDEX: reads the step's config into the RS_* variables.
load_run_script() {
  local dir="steps/$1" count index name value
  config_read RS_SCRIPT "$dir/script"
  config_bool RS_ALLOW_REBOOT "$dir/allow-reboot"
  config_int count "$dir/env/count"
  RS_ENV_NAMES=()
  RS_ENV_VALUES=()
  for ((index = 0; index < count; index++)); do
    config_read name "$dir/env/$index/name"
    [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || config_error "environment variable name '$(one_line "$name")' is not valid"
    config_read value "$dir/env/$index/value"
    RS_ENV_NAMES+=("$name")
    RS_ENV_VALUES+=("$value")
  done
}

step_run_script() {
  load_run_script "$1"
  local script="$CONTEXT_DIR/$RS_SCRIPT" statuses exit_status
  [[ -f $script ]] || fail "$CURRENT_LABEL" "the script is not in the build context"
  prepare_script_registry_auth
  status "running bash $RS_SCRIPT with ${#RS_ENV_NAMES[@]} environment variable(s)"
  set +e
  run_user_script "$script" </dev/null 2>&1 | prefix_lines
  statuses=("${PIPESTATUS[@]}")
  set -e
  forget_script_registry_auth
  exit_status=${statuses[0]}
  if ((exit_status == 0)); then
    return 0
  fi
  if [[ $exit_status == "$REBOOT_EXIT_CODE" && $RS_ALLOW_REBOOT == true ]]; then
    # shellcheck disable=SC2034 # read by lib/steps.sh
    STEP_WANTS_REBOOT=true
    return 0
  fi
  fail "$CURRENT_LABEL" "$(describe_exit_status "$exit_status")"
}

# run_user_script PATH: the script's process: a subshell that moves to the build context, exports
# the environment and becomes `bash PATH`.
run_user_script() {
  (
    cd "$CONTEXT_DIR" || exit 1
    export_script_registry_auth
    for index in "${!RS_ENV_NAMES[@]}"; do
      export "${RS_ENV_NAMES[index]}=${RS_ENV_VALUES[index]}"
    done
    exec bash "$1"
  )
}

describe_exit_status() {
  if (($1 > 128)); then
    printf 'the script exited with status %d (killed by signal %d)' "$1" "$(($1 - 128))"
  else
    printf 'the script exited with status %d' "$1"
  fi
}
