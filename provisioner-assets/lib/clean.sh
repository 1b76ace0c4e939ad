# shellcheck shell=bash
# Makes the machine anonymous before its disk becomes an image: nothing of this build, this VM or its
# credentials is left. Follows COS Customizer's stopServices and cleanup (GoogleCloudPlatform/
# cos-customizer, src/pkg/provisioner/provisioner.go), with the differences noted where they are.

# Services that write state while running; stopped (if active) before their files are removed.
# systemd-random-seed writes a fresh seed when stopped, so it is stopped before the seed is removed.
readonly SERVICES_TO_STOP=(
  update-engine.service crash-reporter.service crash-sender.service metrics-daemon.service
  device_policy_manager.service systemd-random-seed.service
  systemd-journald-audit.socket systemd-journald-dev-log.socket systemd-journald.socket
  systemd-journald.service
)

# Directories emptied but kept (daemons expect them).
readonly DIRS_TO_EMPTY=(
  var/lib/cloud var/log/journal var/log/audit tmp var/tmp
  var/lib/crash_reporter var/lib/metrics var/lib/update_engine var/lib/whitelist
)

# Files and directories removed.
readonly PATHS_TO_REMOVE=(
  root/.docker etc/docker/key.json
  var/lib/systemd/random-seed var/lib/systemd/credential.secret
  mnt/stateful_partition/etc
)

clean_machine() {
  stop_services
  unmount_run_arrangements
  rm -rf "$STATE_DIR" "$RUN_DIR/docker-config"
  remove_secrets
  remove_provisioner_unit
  remove_paths
  rm -f "$ROOT"/etc/ssh/ssh_host_*
  empty_dirs
  empty_var_cache
  truncate_logs
  remove_shell_history
  reset_machine_id
}

stop_services() {
  local unit
  for unit in "${SERVICES_TO_STOP[@]}"; do
    if systemctl is-active --quiet "$unit"; then
      run_logged systemctl stop "$unit" || status "warning: could not stop $unit"
    fi
  done
}

# The unit and its start script come from the cloud-config. On COS /etc is a tmpfs and they vanish
# anyway; on other images (/etc persistent) they would start a provisioner on every instance.
remove_provisioner_unit() {
  rm -f "$UNIT_WANTS_LINK" "$UNIT_FILE"
  rm -rf "$START_SCRIPT_DIR"
}

remove_paths() {
  local path
  for path in "${PATHS_TO_REMOVE[@]}"; do
    rm -rf "$ROOT/${path:?}"
  done
}

# empty_dir DIR: removes everything inside DIR, hidden files included; DIR itself stays.
empty_dir() {
  [[ -d $1 ]] || return 0
  find "$1" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
}

empty_dirs() {
  local dir
  for dir in "${DIRS_TO_EMPTY[@]}"; do
    empty_dir "$ROOT/$dir"
  done
}

# /var/cache is regenerated on demand; Debian's apt and debconf caches are kept as COS Customizer does.
empty_var_cache() {
  [[ -d $ROOT/var/cache ]] || return 0
  find "$ROOT/var/cache" -mindepth 1 -maxdepth 1 ! -name apt ! -name debconf -exec rm -rf {} +
}

# Log files are emptied, not removed: daemons and logrotate expect them to exist.
truncate_logs() {
  [[ -d $ROOT/var/log ]] || return 0
  find "$ROOT/var/log" -type f -exec truncate --size=0 {} +
}

remove_shell_history() {
  rm -f "$ROOT/root/.bash_history" "$ROOT"/home/*/.bash_history
}

# Difference from COS Customizer: an empty machine-id makes every instance generate its own (on COS
# /etc is a tmpfs and this changes nothing).
reset_machine_id() {
  [[ -s $ROOT/etc/machine-id ]] || return 0
  truncate --size=0 "$ROOT/etc/machine-id"
}
