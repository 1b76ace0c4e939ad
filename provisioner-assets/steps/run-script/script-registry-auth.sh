# shellcheck shell=bash
# runScript: scripts pull private images from Container Registry and Artifact Registry as the VM's
# service account, as on COS Customizer, for the build only (nothing of it reaches the image):
#   docker  DOCKER_CONFIG, exported to the script, is a directory in SECRETS_DIR (tmpfs) whose
#           config.json sends those hosts to docker's GCR credential helper (`credHelpers`, helper
#           `gcr`: docker-credential-gcr, which asks the metadata server for a token on each use).
#           The file holds no secret; logins the script makes itself land there too.
#   ctr     PCI_CONTAINERD_HOSTS_DIR, exported to the script, is a hosts directory with a 0600
#           hosts.toml per host that sends the service account's token (as of the step's start:
#           it lasts about an hour) as a bearer token:
#             ctr images pull --hosts-dir "$PCI_CONTAINERD_HOSTS_DIR" us-docker.pkg.dev/p/r/app:1
# Both are removed when the script ends (and by the cleaning before capture, lib/clean.sh).

readonly CONTAINER_REGISTRY_HOSTS=(gcr.io us.gcr.io eu.gcr.io asia.gcr.io marketplace.gcr.io)
# Artifact Registry's locations (<location>-docker.pkg.dev); the VM's own region is added if missing.
readonly ARTIFACT_REGISTRY_LOCATIONS=(
  us europe asia
  africa-south1 asia-east1 asia-east2 asia-northeast1 asia-northeast2 asia-northeast3 asia-south1
  asia-south2 asia-southeast1 asia-southeast2 australia-southeast1 australia-southeast2
  europe-central2 europe-north1 europe-north2 europe-southwest1 europe-west1 europe-west2
  europe-west3 europe-west4 europe-west6 europe-west8 europe-west9 europe-west10 europe-west12
  me-central1 me-central2 me-west1 northamerica-northeast1 northamerica-northeast2
  northamerica-south1 southamerica-east1 southamerica-west1 us-central1 us-east1 us-east4 us-east5
  us-south1 us-west1 us-west2 us-west3 us-west4
)

SCRIPT_DOCKER_CONFIG=""
SCRIPT_CONTAINERD_HOSTS=""

# google_registry_hosts ARRAY: sets ARRAY to the hosts of Container Registry and Artifact Registry.
google_registry_hosts() {
  local -n hosts_ref=$1
  local location region
  hosts_ref=("${CONTAINER_REGISTRY_HOSTS[@]}")
  for location in "${ARTIFACT_REGISTRY_LOCATIONS[@]}"; do
    hosts_ref+=("$location-docker.pkg.dev")
  done
  region=$(vm_region) || return 0
  [[ " ${ARTIFACT_REGISTRY_LOCATIONS[*]} " == *" $region "* ]] || hosts_ref+=("$region-docker.pkg.dev")
}

# vm_region: prints the VM's region (zone us-central1-a: us-central1), from the metadata server.
vm_region() {
  local zone
  zone=$(curl --silent --fail --max-time 10 --header 'Metadata-Flavor: Google' \
    "$METADATA_URL/instance/zone" 2>/dev/null) || return 1
  zone=${zone##*/}
  [[ $zone =~ ^[a-z]+-[a-z]+[0-9]+-[a-z]$ ]] || return 1
  printf '%s' "${zone%-*}"
}

# prepare_script_registry_auth: writes the docker config and the containerd hosts directory.
prepare_script_registry_auth() {
  local hosts=() host json separator="" token=""
  google_registry_hosts hosts
  add_cleanup_hook forget_script_registry_auth
  SCRIPT_DOCKER_CONFIG=$(secrets_dir script-docker-config)
  json=$'{\n  "credHelpers": {'
  for host in "${hosts[@]}"; do
    json+="$separator"$'\n'"    \"$host\": \"gcr\""
    separator=","
  done
  json+=$'\n  }\n}\n'
  write_secret_file "$SCRIPT_DOCKER_CONFIG/config.json" "$json"
  if ! command -v docker-credential-gcr >/dev/null; then
    status "warning: docker-credential-gcr is not installed: docker pulls from Google's registries are anonymous"
  fi
  SCRIPT_CONTAINERD_HOSTS=""
  if ! service_account_token token; then
    status "warning: no service account token from the metadata server: ctr pulls from Google's registries are anonymous"
    return 0
  fi
  SCRIPT_CONTAINERD_HOSTS=$(secrets_dir script-containerd-hosts)
  for host in "${hosts[@]}"; do
    write_containerd_hosts_file "$SCRIPT_CONTAINERD_HOSTS" "$host" "Bearer $token" ||
      fail "$CURRENT_LABEL" "the service account token holds characters that cannot be sent in an HTTP header"
  done
  token=""
}

# export_script_registry_auth: in the script's subshell, before the step's own environment (which
# may set DOCKER_CONFIG itself).
export_script_registry_auth() {
  [[ -z $SCRIPT_DOCKER_CONFIG ]] || export DOCKER_CONFIG="$SCRIPT_DOCKER_CONFIG"
  [[ -z $SCRIPT_CONTAINERD_HOSTS ]] || export PCI_CONTAINERD_HOSTS_DIR="$SCRIPT_CONTAINERD_HOSTS"
}

# forget_script_registry_auth: removes both, once the script has ended.
forget_script_registry_auth() {
  remove_cleanup_hook forget_script_registry_auth
  rm -rf "$SCRIPT_DOCKER_CONFIG" "$SCRIPT_CONTAINERD_HOSTS"
  SCRIPT_DOCKER_CONFIG=""
  SCRIPT_CONTAINERD_HOSTS=""
}
