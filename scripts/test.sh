#!/usr/bin/env bash
# Install everything the test suite needs (system packages, .venv, pinned tools) and run all the tests.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh --test
bash scripts/bootstrap.sh --dev
. .venv/bin/activate
ruff check .
exec python -m pytest "$@"
