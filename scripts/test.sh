#!/usr/bin/env bash
# Install everything the test suite needs (system packages, .venv, pinned tools) and run all the tests.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh --test
bash scripts/bootstrap.sh --dev
. .venv/bin/activate
ruff check .
# The browser extension: its npm tools pinned in package-lock.json, node's own test runner for the pure JS
# logic, eslint and web-ext lint (on the Firefox build). The Chromium end-to-end tests run in pytest below.
if [ -f package.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
  npm test
  npm run lint
fi
exec python -m pytest "$@"
