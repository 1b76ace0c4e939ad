# shellcheck shell=bash
# The GCE metadata server, with curl (COS has neither gcloud nor jq).

# metadata_get URL_PATH BODY_FILE HEADER_FILE [CURL_ARGS...]: GET METADATA_URL/URL_PATH; prints the
# HTTP status ("000" when the server could not be reached).
metadata_get() {
  local path=$1 body=$2 headers=$3 code
  shift 3
  code=$(curl --silent --show-error --output "$body" --dump-header "$headers" \
    --write-out '%{http_code}' --header 'Metadata-Flavor: Google' "$@" \
    "$METADATA_URL/$path") || code=000
  printf '%s' "$code"
}

# header_value NAME FILE: prints the value of HTTP header NAME from a dumped header file.
header_value() {
  local name line
  name=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')
  while IFS= read -r line; do
    line=${line%$'\r'}
    if [[ $(printf '%s' "${line%%:*}" | tr '[:upper:]' '[:lower:]') == "$name" ]]; then
      line=${line#*:}
      printf '%s' "${line# }"
      return 0
    fi
  done <"$2"
  return 1
}

# wait_for_ack: waits until instance attribute ACK_KEY equals BUILD_ID, at most ACK_TIMEOUT_SECONDS.
wait_for_ack() {
  wait_for_attribute "$ACK_KEY" "$BUILD_ID" "$ACK_TIMEOUT_SECONDS"
}

# wait_for_attribute KEY VALUE SECONDS: waits until instance attribute KEY equals VALUE, at most
# SECONDS. Uses wait-for-change requests; last_etag=NONE makes the first one answer at once, later
# ones hang until the value changes. 404 means "not set yet": try again a second later.
wait_for_attribute() {
  # SECONDS counts whole seconds from an arbitrary fraction: one more makes the wait at least
  # the given seconds long (and at most one second longer), never shorter.
  local key=$1 expected=$2 deadline=$((SECONDS + $3 + 1)) etag=NONE remaining wait code value
  local body="$RUN_DIR/attribute.body" headers="$RUN_DIR/attribute.headers"
  mkdir -p "$RUN_DIR"
  while ((remaining = deadline - SECONDS, remaining > 0)); do
    wait=$((remaining < 60 ? remaining : 60))
    code=$(metadata_get "instance/attributes/$key?wait_for_change=true&timeout_sec=$wait&last_etag=$etag" \
      "$body" "$headers" --max-time "$((wait + 5))")
    if [[ $code == 200 ]]; then
      value=$(<"$body")
      [[ $value == "$expected" ]] && return 0
      etag=$(header_value ETag "$headers") || etag=""
      [[ -n $etag ]] && continue
      etag=NONE
    fi
    sleep 1
  done
  return 1
}

# service_account_token VAR: sets VAR to an OAuth access token of the VM's default service account.
# The token stays in memory: never printed, never written to a file.
service_account_token() {
  local json
  json=$(curl --silent --show-error --fail --max-time 30 --header 'Metadata-Flavor: Google' \
    "$METADATA_URL/instance/service-accounts/default/token") || return 1
  [[ $json =~ \"access_token\"[[:space:]]*:[[:space:]]*\"([^\"]+)\" ]] || return 1
  printf -v "$1" '%s' "${BASH_REMATCH[1]}"
}
