# shellcheck shell=bash
# Sourced by the ctr and docker stubs. With STUB_REGISTRY=1 they stop pretending and resolve each
# image at the real test registry on loopback (tests/support/registry.ts), sending the credentials
# the provisioner gave them (ctr: the hosts.toml Authorization header; docker: the login it stored),
# as containerd and docker would: the manifest is fetched, its digest checked and remembered, and a
# refusal fails the stub with the registry's HTTP status. Only 127.0.0.1 registries are reachable.

# registry_mode: whether STUB_REGISTRY asks for the real registry.
registry_mode() {
  [[ ${STUB_REGISTRY:-} == 1 ]]
}

# registry_images_file RUNTIME: where a stub remembers what it pulled (reference TAB digest), beside
# $STUB_CALLS, outside the sandbox root.
registry_images_file() {
  printf '%s/%s-images.tsv' "${STUB_CALLS%/*}" "$1"
}

# registry_resolve REF AUTHORIZATION [SERVER]: GETs the manifest of REF (host/repository:tag or
# host/repository@digest) from SERVER (default http://<host>) with AUTHORIZATION as the
# Authorization header (none when empty), through curl's config on stdin (so that no command line
# holds it). Prints the manifest's digest, checked against its bytes; on failure prints the reason
# on stderr and returns 1.
registry_resolve() {
  local ref=$1 authorization=$2 server=${3:-} host rest repository object url code digest config
  local body headers
  host=${ref%%/*} rest=${ref#*/}
  if [[ $rest == *@* ]]; then
    repository=${rest%%@*} object=${rest#*@}
  else
    repository=${rest%:*} object=${rest##*:}
  fi
  server=${server:-http://$host}
  if [[ ! $server =~ ^http://127\.0\.0\.1:[0-9]+$ ]]; then
    printf 'stub: only the loopback test registry is reachable here, not %s\n' "$server" >&2
    return 1
  fi
  url="$server/v2/$repository/manifests/$object"
  config="url = \"$url\""$'\n'
  config+='header = "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"'$'\n'
  [[ -z $authorization ]] || config+="header = \"Authorization: $authorization\""$'\n'
  body=$(mktemp) headers=$(mktemp)
  code=$(printf '%s' "$config" | /usr/bin/curl -q --config - --silent --show-error --max-time 30 \
    --output "$body" --dump-header "$headers" --write-out '%{http_code}') || code=000
  config=""
  digest=$(tr -d '\r' <"$headers" | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *//p' | tail -n 1)
  local actual
  actual="sha256:$(sha256sum <"$body" | cut -d' ' -f1)"
  rm -f "$body" "$headers"
  if [[ $code != 200 ]]; then
    printf 'stub: GET %s answered HTTP %s\n' "$url" "$code" >&2
    return 1
  fi
  if [[ $digest != "$actual" ]]; then
    printf 'stub: the manifest at %s has digest %s, not the %s the registry names\n' "$url" "$actual" "$digest" >&2
    return 1
  fi
  printf '%s' "$digest"
}

# registry_check_login HOST USER PASSWORD: GET http://HOST/v2/ with the credentials (basic), as
# `docker login` does; prints docker's kind of refusal on stderr and returns 1 when refused.
registry_check_login() {
  local code value
  value=$(printf '%s:%s' "$2" "$3" | base64 -w0)
  code=$(printf 'url = "http://%s/v2/"\nheader = "Authorization: Basic %s"\n' "$1" "$value" |
    /usr/bin/curl -q --config - --silent --show-error --max-time 30 --output /dev/null \
      --write-out '%{http_code}') || code=000
  value=""
  if [[ $code != 200 ]]; then
    printf 'Error response from daemon: login attempt to http://%s/v2/ failed with status: %s\n' "$1" "$code" >&2
    return 1
  fi
}

# registry_remember RUNTIME REF DIGEST / registry_digest_of RUNTIME REF: what the stub pulled.
registry_remember() {
  printf '%s\t%s\n' "$2" "$3" >>"$(registry_images_file "$1")"
}
registry_digest_of() {
  local file
  file=$(registry_images_file "$1")
  [[ -f $file ]] || return 0
  awk -F '\t' -v ref="$2" '$1 == ref { digest = $2 } END { if (digest != "") print digest }' "$file"
}
