#!/usr/bin/env bash
# Install everything the test suite needs (system packages, .venv, pinned tools) and run all the tests under
# coverage (scripts/coverage.sh).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh --test
bash scripts/bootstrap.sh --dev
. .venv/bin/activate
ruff check .
# The layer rule: each layer imports only from those below it (pyproject.toml [tool.importlinter]).
lint-imports
# The browser extension: its npm tools pinned in package-lock.json, node's own test runner for the pure JS
# logic, eslint and web-ext lint (on the Firefox build). The Chromium and Firefox end-to-end tests run in pytest below.
if [ -f package.json ]; then
  # eslint 10 needs node ^20.19 || ^22.13 || >= 24; Debian 12's own nodejs is 18: then use node 22 from the npm
  # registry (the `node` package ships the binary) in .tools/node, for this run only.
  if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number);
      process.exit((a === 20 && b >= 19) || (a === 22 && b >= 13) || a >= 24 ? 0 : 1)'; then
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix .tools/node node@22
    export PATH="$PWD/.tools/node/node_modules/.bin:$PATH"
  fi
  npm ci --no-audit --no-fund --loglevel=error
  npm test
  npm run lint
fi
# The suite itself, under coverage (lines and branches, the processes it starts included): the report ends
# with one line per package and the total; the exit status is pytest's.
exec bash scripts/coverage.sh "$@"
