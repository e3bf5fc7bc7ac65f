#!/usr/bin/env bash
# Coverage (lines and branches) of the suite and of the Python processes it starts (the service, workers, tray
# and windows through agent.py: [tool.coverage.run] patch = subprocess), combined; the report ends with the TOTAL.
# Run after scripts/test.sh has set up .venv. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
python -m coverage erase
status=0
python -m coverage run -m pytest "$@" || status=$?
python -m coverage combine --quiet
python -m coverage report --skip-covered --sort=cover
exit "$status"
