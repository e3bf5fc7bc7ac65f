#!/usr/bin/env bash
# Install what the agent needs and run it: the desktop agent when there is a display, else headless.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh
bash scripts/bootstrap.sh
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec .venv/bin/python agent.py "$@"
fi
echo "No display: running the service headless (agent.py serve)."
exec .venv/bin/python agent.py serve "$@"
