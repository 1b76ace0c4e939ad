# shellcheck shell=bash
# Secrets in the guest (registry passwords, service account tokens) never go on a command line nor
# into a process's environment, where any process could read them (/proc/<pid>/cmdline, environ).
# They stay in the provisioner's memory (unexported variables), reach a command on its stdin
# (printf is a builtin: piping from it starts no process that shows the value), or, for a command
# that reads them only from a file, sit in a 0600 file under SECRETS_DIR: a 0700 directory in /run
# (a tmpfs on COS, so never on the disk that becomes the image), removed right after use, by the
# cleanup hooks when a step fails, and by the cleaning before capture (lib/clean.sh).

readonly SECRETS_DIR="$ROOT/run/pci-secrets"

# secrets_dir NAME: creates (empty) and prints SECRETS_DIR/NAME, 0700 like SECRETS_DIR itself.
secrets_dir() {
  local dir="$SECRETS_DIR/$1"
  (
    umask 077
    mkdir -p "$SECRETS_DIR"
    chmod 0700 "$SECRETS_DIR"
    rm -rf "$dir"
    mkdir -p "$dir"
  )
  printf '%s' "$dir"
}

# write_secret_file PATH VALUE: writes VALUE to PATH, created 0600 (its directory 0700), with a
# builtin: the value never appears in a process's arguments.
write_secret_file() {
  (
    umask 077
    mkdir -p "${1%/*}"
    rm -f "$1"
    printf '%s' "$2" >"$1"
  )
}

# basic_auth VAR USER PASSWORD: sets VAR to "Basic <base64 of USER:PASSWORD>" (base64 reads the
# pair on its stdin).
basic_auth() {
  local __basic_value
  __basic_value=$(printf '%s:%s' "$2" "$3" | base64 -w0)
  printf -v "$1" 'Basic %s' "$__basic_value"
}

# write_containerd_hosts_file DIR HOST AUTHORIZATION [SERVER]: DIR/HOST/hosts.toml (0600) for `ctr
# images pull --hosts-dir DIR`: the registry HOST, reached at SERVER (a scheme and a host; default
# https://HOST, https://registry-1.docker.io for docker.io), with AUTHORIZATION ("Basic ...",
# "Bearer ...") as the Authorization header of every request to it (containerd's hosts.toml:
# docs/hosts.md, the root `server` and `[header]` fields). The empty `[host]` table is needed by
# containerd 1.6 and early 1.7 releases, which refuse a hosts.toml without one ("failed to decode
# hosts.toml: invalid `host` tree", containerd issue 10027) and then pull without the header: COS
# releases ship such versions, and so does the local stand-in (Debian's 1.6.20). Fails when a value
# could break out of its TOML string.
write_containerd_hosts_file() {
  local dir=$1 host=$2 authorization=$3 server=${4:-https://$2}
  [[ $authorization =~ ^(Basic|Bearer)\ [A-Za-z0-9+/=._~-]+$ ]] || return 1
  [[ $host =~ ^[A-Za-z0-9.-]+(:[0-9]+)?$ ]] || return 1
  # Docker Hub's namespace is docker.io; its registry API is registry-1.docker.io.
  [[ -z ${4:-} && $host == docker.io ]] && server=https://registry-1.docker.io
  [[ $server =~ ^https?://[A-Za-z0-9.-]+(:[0-9]+)?$ ]] || return 1
  write_secret_file "$dir/$host/hosts.toml" "server = \"$server\"
capabilities = [\"pull\", \"resolve\"]

[header]
  Authorization = \"$authorization\"

[host]
"
}

# remove_secrets: removes every secret file (all of SECRETS_DIR).
remove_secrets() {
  rm -rf "$SECRETS_DIR"
}
