#!/bin/bash
# Trusts the private CA in $REGISTRY_CA (PEM) for pulls from $REGISTRY_HOST (host or host:port),
# for this build only: COS's /etc is a tmpfs, so none of it reaches the image.
# - dockerd reads /etc/docker/certs.d/<host>/ca.crt at every pull;
# - containerd's CRI (what kubelet pulls through) reads /etc/containerd/certs.d/<host>/;
# - ctr, as the build's containerd preload runs it, and curl read the system bundle.
set -euo pipefail
: "${REGISTRY_CA:?set REGISTRY_CA to the PEM of the CA that signs the registry certificate}"
: "${REGISTRY_HOST:?set REGISTRY_HOST to the registry as images name it (host or host:port)}"
printf '%s\n' "$REGISTRY_CA" >ca.crt
install -D -m 0644 ca.crt "/etc/docker/certs.d/$REGISTRY_HOST/ca.crt"
install -D -m 0644 ca.crt "/etc/containerd/certs.d/$REGISTRY_HOST/ca.crt"
cat ca.crt >>/etc/ssl/certs/ca-certificates.crt
echo "trusting the registry CA for $REGISTRY_HOST during this build"
