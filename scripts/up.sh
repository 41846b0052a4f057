#!/usr/bin/env bash
# Installs what kubelite needs, then brings up a local cluster (state in /var/lib/kubelite):
# the API server, scheduler, controllers and a real node (containerd), in the foreground.
# Stop it with Ctrl-C or `kubelite down`; extra arguments go to `kubelite up` (e.g. --nodes 2).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/kubelite up --data-dir "${KUBELITE_DATA_DIR:-/var/lib/kubelite}" "$@"
