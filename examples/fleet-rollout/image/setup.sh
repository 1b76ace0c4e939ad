#!/bin/bash
# Runs inside the preload VM, as root. Change this file and run `pulumi up` again: the image is
# rebuilt, a new template takes it, and the group rolls its instances over to that template.
set -euo pipefail
mkdir -p /var/lib/web
printf 'release 1\n' > /var/lib/web/release
echo "wrote /var/lib/web/release"
