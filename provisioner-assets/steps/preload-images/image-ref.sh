# shellcheck shell=bash
# Container image references, as docker reads them.

# normalize_image_ref REF: prints the fully qualified form that ctr needs (docker accepts short
# ones): "nginx" becomes "docker.io/library/nginx:latest", "ghcr.io/o/app" "ghcr.io/o/app:latest";
# digests and tags are kept.
normalize_image_ref() {
  local ref=$1 domain remainder first=${1%%/*}
  if [[ $ref == */* && ($first == *.* || $first == *:* || $first == localhost) ]]; then
    domain=$first
    remainder=${ref#*/}
  else
    domain=docker.io
    remainder=$ref
  fi
  domain=$(canonical_registry "$domain")
  if [[ $domain == docker.io && $remainder != */* ]]; then
    remainder="library/$remainder"
  fi
  if [[ ${remainder##*/} != *[:@]* ]]; then
    remainder+=":latest"
  fi
  printf '%s/%s' "$domain" "$remainder"
}

# canonical_registry HOST: Docker Hub's aliases become docker.io; other hosts are kept.
canonical_registry() {
  case $1 in
  index.docker.io | registry-1.docker.io | registry.hub.docker.com) printf 'docker.io' ;;
  *) printf '%s' "$1" ;;
  esac
}

# registry_of REF: the registry host of a normalized reference.
registry_of() {
  printf '%s' "${1%%/*}"
}

# is_google_registry HOST: Container Registry and Artifact Registry, which accept the VM's service
# account token.
is_google_registry() {
  [[ $1 == gcr.io || $1 == *.gcr.io || $1 == *-docker.pkg.dev ]]
}
