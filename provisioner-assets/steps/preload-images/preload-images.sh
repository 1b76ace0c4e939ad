# shellcheck shell=bash
# preloadImages: pulls images into containerd's k8s.io namespace (what the kubelet and `crictl` see)
# and/or docker's store, and records the digests pulled in IMAGES_MANIFEST on the image.

PI_IMAGES=()
PI_RUNTIMES=()

# load_preload_images INDEX: reads the step's config into the PI_* variables.
load_preload_images() {
  local dir="steps/$1" runtime
  config_list PI_IMAGES "$dir/images"
  config_list PI_RUNTIMES "$dir/runtimes"
  for runtime in "${PI_RUNTIMES[@]}"; do
    [[ $runtime == containerd || $runtime == docker ]] || config_error "unknown runtime '$(one_line "$runtime")'"
  done
  config_bool PI_USE_SERVICE_ACCOUNT "$dir/use-service-account"
  load_registry_credentials "$dir/credentials"
}

step_preload_images() {
  local image runtime
  load_preload_images "$1"
  for runtime in "${PI_RUNTIMES[@]}"; do
    require_runtime "$runtime"
  done
  prepare_docker_config
  for image in "${PI_IMAGES[@]}"; do
    for runtime in "${PI_RUNTIMES[@]}"; do
      "pull_with_$runtime" "$image"
    done
  done
  forget_registry_credentials
  write_images_manifest
}

# require_runtime NAME: the runtime's command exists (on images other than COS it may not).
require_runtime() {
  local command=ctr
  [[ $1 == docker ]] && command=docker
  command -v "$command" >/dev/null || fail "$CURRENT_LABEL" "$command is not installed on this machine, so images cannot be pulled into $1"
}

pull_with_containerd() {
  local image=$1 reference host user password authorization digest pulled=true
  local auth=()
  reference=$(normalize_image_ref "$image")
  host=$(registry_of "$reference")
  if credentials_for "$host" user password; then
    # ctr's --user would put the password on its command line. Instead a hosts.toml (0600, in a
    # 0700 directory on tmpfs) gives the registry an Authorization header, and is removed as soon
    # as the pull ends. Registries with a token service get a pull token (registry-auth.sh).
    registry_authorization authorization "$host" "$(repository_of "$reference")" "$user" "$password" "$image"
    auth=(--hosts-dir "$CONTAINERD_HOSTS_DIR")
    secrets_dir containerd-hosts >/dev/null
    write_containerd_hosts_file "$CONTAINERD_HOSTS_DIR" "$host" "$authorization" "$(registry_server "$host")" ||
      fail "$CURRENT_LABEL" "the credentials for $host hold characters that cannot be sent in an HTTP header"
  fi
  status "pulling $reference into containerd (namespace k8s.io)"
  # ctr repaints a progress table on stdout: only its errors go to the serial port.
  ctr --namespace k8s.io images pull "${auth[@]}" "$reference" 2>&1 >/dev/null | prefix_lines || pulled=false
  rm -rf "$CONTAINERD_HOSTS_DIR"
  [[ $pulled == true ]] || fail "$CURRENT_LABEL" "containerd could not pull $(one_line "$image")"
  digest=$(containerd_digest "$reference")
  [[ -n $digest ]] || fail "$CURRENT_LABEL" "containerd does not list $(one_line "$reference") after pulling it"
  record_image "$image" containerd "$reference" "$digest"
}

# containerd_digest REF: the digest `ctr images ls` shows for REF (columns: REF TYPE DIGEST ...).
containerd_digest() {
  local name digest
  while read -r name _ digest _; do
    if [[ $name == "$1" ]]; then
      printf '%s' "$digest"
      return 0
    fi
  done < <(ctr --namespace k8s.io images ls "name==$1" 2>/dev/null)
  return 0
}

pull_with_docker() {
  local image=$1 host user password repo_digest
  host=$(registry_of "$(normalize_image_ref "$image")")
  if credentials_for "$host" user password; then
    docker_login_once "$host" "$user" "$password" "$image"
  fi
  status "pulling $image into docker"
  if ! docker --config "$DOCKER_CONFIG_DIR" pull --quiet "$image" 2>&1 >/dev/null | prefix_lines; then
    fail "$CURRENT_LABEL" "docker could not pull $(one_line "$image")"
  fi
  repo_digest=$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$image" 2>/dev/null | head -n 1) ||
    repo_digest=""
  [[ $repo_digest == *@* ]] || fail "$CURRENT_LABEL" "docker shows no digest for $(one_line "$image") after pulling it"
  record_image "$image" docker "${repo_digest%@*}" "${repo_digest#*@}"
}

# record_image IMAGE RUNTIME REFERENCE DIGEST: adds a line to the state (several preloadImages steps,
# reboots in between, all end up in one manifest).
record_image() {
  status "pulled $1 into $2: $4"
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$STATE_DIR/images.tsv"
}

# write_images_manifest: IMAGES_MANIFEST, a JSON array of {image, runtime, reference, digest}.
write_images_manifest() {
  local image runtime reference digest separator=""
  mkdir -p "${IMAGES_MANIFEST%/*}"
  {
    printf '['
    while IFS=$'\t' read -r image runtime reference digest; do
      printf '%s\n  {"image": %s, "runtime": %s, "reference": %s, "digest": %s}' "$separator" \
        "$(json_string "$image")" "$(json_string "$runtime")" "$(json_string "$reference")" "$(json_string "$digest")"
      separator=","
    done <"$STATE_DIR/images.tsv"
    printf '\n]\n'
  } >"$IMAGES_MANIFEST.new"
  mv -f "$IMAGES_MANIFEST.new" "$IMAGES_MANIFEST"
  status "recorded the pulled images in ${IMAGES_MANIFEST#"$ROOT"}"
}
