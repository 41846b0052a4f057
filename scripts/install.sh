#!/usr/bin/env bash
# Installs everything kubelite needs on a Debian 12 machine, as root: Debian packages
# (etcd, containerd, runc, CNI plugins, iptables, busybox-static) and a virtualenv at .venv
# with kubelite and its Python dependencies. Idempotent; quick when all is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(etcd-server etcd-client containerd runc containernetworking-plugins iptables
              busybox-static iproute2 procps python3-venv python3-pip)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ! command -v kubectl >/dev/null 2>&1; then
    missing+=(kubectl)
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "install: apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.kubelite-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "install: pip install -e .[test]"
    # (this machine's pip config may list local mirrors that do not exist: hide those warnings)
    .venv/bin/pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
    .venv/bin/pip install -q -e '.[test]' 2>&1 | grep -v "^WARNING: Location" || true
    .venv/bin/python -c "import kubelite, aiohttp, aetcd, grpc, kubernetes, pytest" || exit 1
    echo "$want" > "$stamp"
fi
