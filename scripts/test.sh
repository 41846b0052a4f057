#!/usr/bin/env bash
# The whole test suite: installs what it needs, runs the linters, then every test.
# pytest's "no tests ran" (exit 5) counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh || exit 1
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"
ruff check src tests bench || exit 1
echo "== mypy"
mypy src/kubelite || exit 1
echo "== pytest"
python -m pytest -q -p no:cacheprovider --durations=20 "$@" tests
rc=$?
if [ $rc -eq 5 ]; then
    echo "pytest ran no tests: failing"
    exit 1
fi
exit $rc
