# shellcheck shell=bash
# Registry credentials for preloadImages: the step's own credentials, or the VM's service account
# token for Google's registries. Passwords and tokens stay in memory and never reach a command line
# or an environment (lib/secrets.sh):
#   docker      `docker login --password-stdin` (stdin); docker keeps its copy in config.json of a
#               0700 config directory in /run (tmpfs), removed when the step ends (or fails)
#   containerd  a hosts.toml with the Authorization header, 0600 in SECRETS_DIR, for one pull
#               (`ctr images pull --hosts-dir`), removed right after it

PI_USE_SERVICE_ACCOUNT=false
PI_CRED_REGISTRIES=()
PI_CRED_USERNAMES=()
PI_CRED_PASSWORDS=()
SERVICE_ACCOUNT_TOKEN=""
DOCKER_CONFIG_DIR="$RUN_DIR/docker-config"
CONTAINERD_HOSTS_DIR="$SECRETS_DIR/containerd-hosts"
DOCKER_LOGGED_IN=()

# load_registry_credentials PATH: PATH/count entries of PATH/<n>/{registry,username,password}.
load_registry_credentials() {
  local count index registry username password
  config_int count "$1/count"
  PI_CRED_REGISTRIES=()
  PI_CRED_USERNAMES=()
  PI_CRED_PASSWORDS=()
  for ((index = 0; index < count; index++)); do
    config_read registry "$1/$index/registry"
    config_read username "$1/$index/username"
    config_read password "$1/$index/password"
    PI_CRED_REGISTRIES+=("$registry")
    PI_CRED_USERNAMES+=("$username")
    PI_CRED_PASSWORDS+=("$password")
  done
}

# credentials_for HOST USER_VAR PASSWORD_VAR: sets the two variables to the credentials to use for
# HOST; returns 1 for an anonymous pull. The step's own credentials win over the service account.
credentials_for() {
  local host=$1 index
  for index in "${!PI_CRED_REGISTRIES[@]}"; do
    if [[ $(canonical_registry "${PI_CRED_REGISTRIES[index]}") == "$host" ]]; then
      printf -v "$2" '%s' "${PI_CRED_USERNAMES[index]}"
      printf -v "$3" '%s' "${PI_CRED_PASSWORDS[index]}"
      return 0
    fi
  done
  if [[ $PI_USE_SERVICE_ACCOUNT == true ]] && is_google_registry "$host"; then
    if [[ -z $SERVICE_ACCOUNT_TOKEN ]]; then
      service_account_token SERVICE_ACCOUNT_TOKEN ||
        fail "$CURRENT_LABEL" "could not get the service account token from the metadata server"
    fi
    printf -v "$2" '%s' oauth2accesstoken
    printf -v "$3" '%s' "$SERVICE_ACCOUNT_TOKEN"
    return 0
  fi
  return 1
}

# authorization_for VAR USER PASSWORD: the Authorization header value for a registry: the service
# account's OAuth token as a bearer token (what Container Registry and Artifact Registry accept),
# other credentials as HTTP basic authentication.
authorization_for() {
  if [[ $2 == oauth2accesstoken && -n $SERVICE_ACCOUNT_TOKEN && $3 == "$SERVICE_ACCOUNT_TOKEN" ]]; then
    printf -v "$1" 'Bearer %s' "$3"
  else
    basic_auth "$1" "$2" "$3"
  fi
}

# docker_login_once HOST USER PASSWORD: logs docker in to HOST in DOCKER_CONFIG_DIR; the password goes
# through stdin, never on a command line.
docker_login_once() {
  local host=$1 done_host
  for done_host in "${DOCKER_LOGGED_IN[@]}"; do
    [[ $done_host == "$host" ]] && return 0
  done
  if ! printf '%s' "$3" | docker --config "$DOCKER_CONFIG_DIR" login --username "$2" --password-stdin "$host" \
    2>&1 >/dev/null | prefix_lines; then
    fail "$CURRENT_LABEL" "docker could not log in to $host"
  fi
  DOCKER_LOGGED_IN+=("$host")
}

# prepare_docker_config: an empty docker config directory in tmpfs, so that pulls use only the
# logins made here (and none that a script left behind).
prepare_docker_config() {
  rm -rf "$DOCKER_CONFIG_DIR"
  (umask 077 && mkdir -p "$DOCKER_CONFIG_DIR")
  chmod 0700 "$DOCKER_CONFIG_DIR"
  add_cleanup_hook forget_registry_credentials
}

# forget_registry_credentials: removes docker's credential copy and every secret held in memory.
forget_registry_credentials() {
  rm -rf "$DOCKER_CONFIG_DIR" "$CONTAINERD_HOSTS_DIR"
  DOCKER_LOGGED_IN=()
  SERVICE_ACCOUNT_TOKEN=""
  PI_CRED_PASSWORDS=()
  remove_cleanup_hook forget_registry_credentials
}
