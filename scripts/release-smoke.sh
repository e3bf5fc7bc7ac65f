#!/usr/bin/env bash
# Release smoke test: build dist/CRM-Agent from agent.spec, then run it from a fresh directory with a clean
# environment and check every mode a release needs (scripts/release_smoke.py says what). CI runs it after
# the test suite (.ci/run); it reuses the suite's .venv, pip cache and assembled model.
# Usage: scripts/release-smoke.sh [--no-build] [--work DIR]   (--no-build: test the binary already in dist/)
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
if [ "${1:-}" = "--no-build" ]; then build=0; shift; fi
if [ "$build" = 1 ]; then
  started=$(date +%s)
  bash scripts/build.sh
  echo "build step (system packages, .venv check, build tools, PyInstaller): $(( $(date +%s) - started )) s"
fi
bash scripts/system-packages.sh --test  # Xvfb and x11-utils for the window checks
. .venv/bin/activate
# The bundled model, assembled once per machine and shared with the test suite (tests/test_ai_worker.py).
models="${CRM_AGENT_TEST_MODELS:-${TMPDIR:-/tmp}/crm-agent-test-models}"
model="$(python -c 'import sys; from pathlib import Path; from ai.llm.model import assemble_bundled_model
print(assemble_bundled_model(Path(sys.argv[1])))' "$models")"
binary=dist/CRM-Agent
exec python scripts/release_smoke.py --binary "$binary" --model "$model" "$@"
