#!/usr/bin/env bash
# Installs what kubelite needs, then brings up a local cluster (state in /var/lib/kubelite).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/kubelite server --data-dir "${KUBELITE_DATA_DIR:-/var/lib/kubelite}" "$@"
