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

# repository_of REF: the repository of a normalized reference, without registry, tag or digest
# ("ghcr.io/org/app:v1" gives "org/app"), as token scopes name it.
repository_of() {
  local repository=${1#*/}
  repository=${repository%%@*}
  if [[ ${repository##*/} == *:* ]]; then
    repository=${repository%:*}
  fi
  printf '%s' "$repository"
}

# registry_server HOST: the scheme and host at which containerd reaches registry HOST, for the
# hosts.toml and the authentication probe: Docker Hub's registry API for docker.io; plain http for
# a loopback host with a port other than 443 (what containerd does for those without a hosts.toml:
# local test registries); https otherwise.
registry_server() {
  local host=$1 name=${1%:*} port=""
  [[ $host == *:* ]] && port=${host##*:}
  if [[ $host == docker.io ]]; then
    printf 'https://registry-1.docker.io'
  elif [[ -n $port && $port != 443 && ($name == localhost || $name =~ ^127\.[0-9.]+$) ]]; then
    printf 'http://%s' "$host"
  else
    printf 'https://%s' "$host"
  fi
}
