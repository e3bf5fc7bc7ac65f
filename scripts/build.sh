#!/usr/bin/env bash
# Build the one-file binary dist/CRM-Agent (CRM-Agent.exe on Windows) from agent.spec.
# Installs the system packages and .venv like run-agent.sh does, then the pinned build tools.
# Usage: scripts/build.sh [extra PyInstaller options, e.g. --clean]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh
bash scripts/bootstrap.sh
. .venv/bin/activate
python -m pip install --quiet --disable-pip-version-check -r requirements-build.txt
# The browser extension's packages (dist/crm-agent-*.zip) and its staged files, which agent.spec bundles for
# the Connect window. Needs node and zip; without them the spec bundles the extension/ source folder.
if command -v node >/dev/null 2>&1 && command -v zip >/dev/null 2>&1; then
  sh scripts/build-extension.sh
fi
started=$(date +%s)
python -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller "$@" agent.spec
binary=dist/CRM-Agent
[ -f dist/CRM-Agent.exe ] && binary=dist/CRM-Agent.exe
echo "built $binary: $(( $(wc -c < "$binary") / 1000000 )) MB in $(( $(date +%s) - started )) s (PyInstaller step only)"
