#!/bin/bash
# Runs inside the preload VM, as root, with this directory as its working directory.
set -euo pipefail
mkdir -p /var/lib
printf '%s\n' "${GREETING}" > /var/lib/hello
echo "wrote /var/lib/hello"
