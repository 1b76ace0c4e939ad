# shellcheck shell=bash
# Registry credentials for preloadImages: the step's own credentials, or the VM's service account
# token for Google's registries. Passwords and tokens stay in memory and never reach a command line
# or an environment (lib/secrets.sh):
#   docker      `docker login --password-stdin` (stdin); docker keeps its copy in config.json of a
#               0700 config directory in /run (tmpfs), removed when the step ends (or fails)
#   containerd  a hosts.toml with the Authorization header, 0600 in SECRETS_DIR, for one pull
#               (`ctr images pull --hosts-dir`), removed right after it. Which header: an anonymous
#               probe of <server>/v2/ (curl) shows how the registry authenticates. A Docker token
#               flow challenge (401, `WWW-Authenticate: Bearer realm=...`: Docker Hub, ghcr.io,
#               quay.io, most private registries) has the credentials exchanged at the realm for a
#               pull token of the image's repository, sent as "Bearer <token>" (a static Basic header
#               would only get containerd an anonymous token); a Basic challenge, no challenge, or a
#               probe that fails keeps "Basic <base64 user:password>" (the service account's token:
#               "Bearer <access token>"). After a Basic challenge that header is tried once at /v2/,
#               so that a wrong password fails the step naming the registry and the image, instead
#               of as a bare pull failure. curl gets its URL and the credentials in a config on its
#               stdin (`--config -`), and reads no ~/.curlrc (-q).

PI_USE_SERVICE_ACCOUNT=false
PI_CRED_REGISTRIES=()
PI_CRED_USERNAMES=()
PI_CRED_PASSWORDS=()
SERVICE_ACCOUNT_TOKEN=""
DOCKER_CONFIG_DIR="$RUN_DIR/docker-config"
CONTAINERD_HOSTS_DIR="$SECRETS_DIR/containerd-hosts"
DOCKER_LOGGED_IN=()
# What probe_registry saw.
PROBE_CODE=""
PROBE_CHALLENGE=""
PROBE_ERROR=""

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

# docker_login_once HOST USER PASSWORD IMAGE: logs docker in to HOST in DOCKER_CONFIG_DIR, to pull
# IMAGE (named in the failure); the password goes through stdin, never on a command line.
docker_login_once() {
  local host=$1 done_host
  for done_host in "${DOCKER_LOGGED_IN[@]}"; do
    [[ $done_host == "$host" ]] && return 0
  done
  if ! printf '%s' "$3" | docker --config "$DOCKER_CONFIG_DIR" login --username "$2" --password-stdin "$host" \
    2>&1 >/dev/null | prefix_lines; then
    fail "$CURRENT_LABEL" "docker could not log in to $host to pull $(one_line "$4"): check the credentials given for $host"
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

# registry_authorization VAR HOST REPOSITORY USER PASSWORD [IMAGE]: sets VAR to the Authorization
# header value for pulling REPOSITORY from HOST with these credentials: a pull token of the
# registry's token service when the probe shows one, else what authorization_for gives (checked at
# /v2/ when the registry challenged with Basic and the header is Basic). Fails the step, naming the
# registry, the image (IMAGE, default HOST/REPOSITORY) and the reason, when the registry or its
# token service refuses the credentials or gives no usable token.
registry_authorization() {
  local host=$2 repository=$3 user=$4 password=$5 image=${6:-$2/$3} server realm service token reason
  local header code
  server=$(registry_server "$host")
  probe_registry "$server"
  if [[ -n $PROBE_ERROR ]]; then
    status "could not probe how $host authenticates ($PROBE_ERROR): sending its credentials without a token exchange"
  fi
  if [[ $PROBE_CODE != 401 || $PROBE_CHALLENGE != [Bb]earer\ * ]]; then
    authorization_for header "$user" "$password"
    # Only credentials given for the registry are checked (the service account's token goes to
    # Google's registries, which challenge with Bearer).
    if [[ $PROBE_CODE == 401 && $header == Basic\ * ]]; then
      registry_answer code "$server/v2/" "$header"
      if [[ $code == 401 || $code == 403 ]]; then
        header=""
        fail "$CURRENT_LABEL" "registry $host refused the credentials for $(one_line "$image") (HTTP $code): check the username and password given for $host"
      fi
    fi
    printf -v "$1" '%s' "$header"
    header=""
    return 0
  fi
  challenge_param realm "$PROBE_CHALLENGE" realm || realm=""
  challenge_param service "$PROBE_CHALLENGE" service || service=""
  [[ $realm =~ ^https?://[^[:space:]]+$ ]] ||
    fail "$CURRENT_LABEL" "registry $host asks for a token without a usable realm (WWW-Authenticate: $(one_line "${PROBE_CHALLENGE:0:200}"))"
  if [[ $server == https://* && $realm == http://* ]]; then
    fail "$CURRENT_LABEL" "registry $host names a plain http token service ($(one_line "$realm")): its credentials are not sent there"
  fi
  status "getting a pull token for $host/$repository from $(one_line "${realm%%\?*}")"
  request_registry_token token reason "$realm" "$service" "repository:$repository:pull" "$user" "$password" ||
    fail "$CURRENT_LABEL" "registry $host: the token service $(one_line "${realm%%\?*}") $reason, for $(one_line "$image")"
  printf -v "$1" 'Bearer %s' "$token"
}

# registry_answer VAR URL AUTHORIZATION: sets VAR to the HTTP status of GET URL with AUTHORIZATION as
# its Authorization header (given to curl in its config on stdin), or to "000" when there was no
# answer (the pull then fails with its own error).
registry_answer() {
  local url config
  curl_config_value url "$2"
  curl_config_value config "Authorization: $3"
  config="url = $url"$'\n'"header = $config"$'\n'
  printf -v "$1" '%s' "$(printf '%s' "$config" |
    curl -q --config - --proto =http,https --silent --connect-timeout 10 --max-time 30 \
      --output /dev/null --write-out '%{http_code}' 2>/dev/null || true)"
  config=""
  [[ -n ${!1} ]] || printf -v "$1" '000'
}

# probe_registry SERVER: GET SERVER/v2/ without credentials. Sets PROBE_CODE to the final HTTP
# status, PROBE_CHALLENGE to its WWW-Authenticate (a Bearer one first), and PROBE_ERROR to curl's
# error when there was no answer (else empty).
probe_registry() {
  local output line challenge="" code=""
  PROBE_CODE="" PROBE_CHALLENGE="" PROBE_ERROR=""
  curl_config_value line "$1/v2/"
  if ! output=$(printf 'url = %s\n' "$line" |
    curl -q --config - --proto =http,https --silent --show-error --connect-timeout 10 --max-time 30 \
      --output /dev/null --dump-header - 2>&1); then
    PROBE_ERROR=$(printf '%s\n' "$output" | grep '^curl: ' | tail -n 1) || PROBE_ERROR=""
    PROBE_ERROR=${PROBE_ERROR:-"curl failed"}
    return 0
  fi
  # Several header blocks when a proxy answered a CONNECT first: the last one is the registry's.
  while IFS= read -r line; do
    line=${line%$'\r'}
    if [[ $line =~ ^HTTP/[0-9.]+\ ([0-9]{3}) ]]; then
      code=${BASH_REMATCH[1]} challenge=""
    elif [[ $line =~ ^[Ww][Ww][Ww]-[Aa][Uu][Tt][Hh][Ee][Nn][Tt][Ii][Cc][Aa][Tt][Ee]:[[:space:]]*(.*)$ ]]; then
      if [[ -z $challenge || ($challenge != [Bb]earer\ * && ${BASH_REMATCH[1]} == [Bb]earer\ *) ]]; then
        challenge=${BASH_REMATCH[1]}
      fi
    fi
  done <<<"$output"
  PROBE_CODE=$code PROBE_CHALLENGE=$challenge
}

# challenge_param VAR CHALLENGE NAME: sets VAR to parameter NAME (case-insensitive) of a
# WWW-Authenticate challenge (`Bearer realm="...",service="..."`; quoted or bare values).
challenge_param() {
  local rest=${2#* } name value
  local param_re='^[[:space:],]*([A-Za-z0-9_-]+)[[:space:]]*=[[:space:]]*("(([^"\\]|\\.)*)"|([^,[:space:]]*))(.*)$'
  while [[ $rest =~ $param_re ]]; do
    name=${BASH_REMATCH[1]} rest=${BASH_REMATCH[6]}
    if [[ ${BASH_REMATCH[2]} == \"* ]]; then
      value=${BASH_REMATCH[3]}
      value=$(printf '%s' "$value" | sed 's/\\\(.\)/\1/g')
    else
      value=${BASH_REMATCH[5]}
    fi
    if [[ ${name,,} == "${3,,}" ]]; then
      printf -v "$1" '%s' "$value"
      return 0
    fi
  done
  return 1
}

# request_registry_token TOKEN_VAR REASON_VAR REALM SERVICE SCOPE USER PASSWORD: asks the token
# service at REALM for a token of SERVICE and SCOPE, with the credentials as basic authentication
# (the Docker registry token flow). Sets TOKEN_VAR, or REASON_VAR (what went wrong, without any
# secret) and returns 1.
request_registry_token() {
  local url=$3 encoded config value output code body issued=""
  if [[ $url == *\?* ]]; then url+="&"; else url+="?"; fi
  if [[ -n $4 ]]; then
    url_encode encoded "$4"
    url+="service=$encoded&"
  fi
  url_encode encoded "$5"
  url+="scope=$encoded"
  curl_config_value value "$url"
  config="url = $value"$'\n'
  curl_config_value value "$6:$7"
  config+="user = $value"$'\n'
  value=""
  if ! output=$(printf '%s' "$config" |
    curl -q --config - --proto =http,https --silent --show-error --connect-timeout 10 --max-time 60 \
      --write-out '\n%{http_code}' 2>&1); then
    config=""
    value=$(printf '%s\n' "$output" | grep '^curl: ' | tail -n 1) || value=""
    printf -v "$2" 'could not be reached (%s)' "${value:-curl failed}"
    return 1
  fi
  config=""
  code=${output##*$'\n'} body=${output%$'\n'*}
  if [[ $code == 401 || $code == 403 ]]; then
    printf -v "$2" 'refused the credentials (HTTP %s)' "$code"
    return 1
  elif [[ $code != 200 ]]; then
    printf -v "$2" 'answered HTTP %s instead of a token' "$code"
    return 1
  fi
  if ! json_object_string issued "$body" token || [[ -z $issued ]]; then
    json_object_string issued "$body" access_token || issued=""
  fi
  if [[ -z $issued ]]; then
    printf -v "$2" 'answered without a token'
    return 1
  fi
  if [[ ! $issued =~ ^[A-Za-z0-9+/=._~-]+$ ]]; then
    printf -v "$2" 'gave a token with characters that cannot be sent in an HTTP header'
    return 1
  fi
  printf -v "$1" '%s' "$issued"
}

# curl_config_value VAR TEXT: sets VAR to TEXT as a double-quoted value of a curl config file.
curl_config_value() {
  local text=$2
  text=${text//\\/\\\\}
  text=${text//\"/\\\"}
  text=${text//$'\n'/\\n}
  text=${text//$'\r'/\\r}
  text=${text//$'\t'/\\t}
  printf -v "$1" '"%s"' "$text"
}

# url_encode VAR TEXT: sets VAR to TEXT percent-encoded for a URL query (unreserved bytes kept).
url_encode() {
  local LC_ALL=C
  local __url_text=$2 __url_encoded="" __url_char __url_index
  for ((__url_index = 0; __url_index < ${#__url_text}; __url_index++)); do
    __url_char=${__url_text:__url_index:1}
    case $__url_char in
    [A-Za-z0-9._~-]) __url_encoded+=$__url_char ;;
    *) printf -v __url_char '%%%02X' "'$__url_char" && __url_encoded+=$__url_char ;;
    esac
  done
  printf -v "$1" '%s' "$__url_encoded"
}

# json_object_string VAR JSON KEY: sets VAR to the value of KEY in the JSON object JSON (its own
# keys, not those of nested values) when that value is a string, decoded; returns 1 otherwise
# (KEY missing or not a string, or JSON not an object).
json_object_string() {
  local LC_ALL=C
  local rest=$2 key value
  local string_re='^"(([^"\\]|\\.)*)"' space_re='^[[:space:]]+' colon_re='^[[:space:]]*:'
  [[ $rest =~ $space_re ]] && rest=${rest:${#BASH_REMATCH[0]}}
  [[ $rest == '{'* ]] || return 1
  rest=${rest:1}
  while true; do
    [[ $rest =~ $space_re ]] && rest=${rest:${#BASH_REMATCH[0]}}
    [[ $rest =~ $string_re ]] || return 1
    key=${BASH_REMATCH[1]} rest=${rest:${#BASH_REMATCH[0]}}
    [[ $rest =~ $colon_re ]] || return 1
    rest=${rest:${#BASH_REMATCH[0]}}
    [[ $rest =~ $space_re ]] && rest=${rest:${#BASH_REMATCH[0]}}
    if [[ $rest =~ $string_re ]]; then
      value=${BASH_REMATCH[1]} rest=${rest:${#BASH_REMATCH[0]}}
      json_unescape key "$key" || return 1
      if [[ $key == "$3" ]]; then
        json_unescape "$1" "$value"
        return
      fi
    else
      json_skip_value || return 1
    fi
    [[ $rest =~ $space_re ]] && rest=${rest:${#BASH_REMATCH[0]}}
    case $rest in
    ,*) rest=${rest:1} ;;
    *) return 1 ;;
    esac
  done
}

# json_skip_value: removes one JSON value (a string, number, literal, object or array; strings
# inside respected) from the start of the caller's `rest`; returns 1 on malformed JSON.
json_skip_value() {
  local depth=0 string_re='^"([^"\\]|\\.)*"' other_re='^[^]["{},]+'
  while true; do
    case ${rest:0:1} in
    '"')
      [[ $rest =~ $string_re ]] || return 1
      rest=${rest:${#BASH_REMATCH[0]}}
      ;;
    '{' | '[')
      depth=$((depth + 1)) rest=${rest:1}
      continue
      ;;
    '}' | ']')
      ((depth > 0)) || return 1
      depth=$((depth - 1)) rest=${rest:1}
      ;;
    ,)
      ((depth > 0)) || return 1
      rest=${rest:1}
      continue
      ;;
    '') return 1 ;;
    *)
      [[ $rest =~ $other_re ]] || return 1
      rest=${rest:${#BASH_REMATCH[0]}}
      ;;
    esac
    ((depth > 0)) || return 0
  done
}

# json_unescape VAR TEXT: sets VAR to the JSON string body TEXT decoded (\" \\ \/ \b \f \n \r \t
# \uXXXX); returns 1 on an invalid escape.
json_unescape() {
  local text=$2 decoded="" char
  local escape_re='^([^\\]*)\\(u[0-9A-Fa-f]{4}|["\\/bfnrt])(.*)$'
  while [[ $text =~ $escape_re ]]; do
    decoded+=${BASH_REMATCH[1]} text=${BASH_REMATCH[3]} char=${BASH_REMATCH[2]}
    case $char in
    u*) printf -v char '%b' "\\u${char:1}" ;;
    b) char=$'\b' ;;
    f) char=$'\f' ;;
    n) char=$'\n' ;;
    r) char=$'\r' ;;
    t) char=$'\t' ;;
    esac
    decoded+=$char
  done
  [[ $text != *\\* ]] || return 1
  printf -v "$1" '%s' "$decoded$text"
}
