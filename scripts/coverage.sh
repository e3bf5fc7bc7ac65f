#!/usr/bin/env bash
# The suite under coverage.py: lines and branches of the pytest process and of every Python process it starts
# (the service, workers, tray and windows through agent.py: [tool.coverage.run] patch = subprocess), combined.
# Prints the modules not fully covered (sorted, ending with the TOTAL), one line per package, the modules of
# core/, storage/, crm/ and ai/ under 80%, and last the total.
# scripts/test.sh ends with this; on its own it needs the .venv test.sh set up. Extra arguments go to pytest.
# The exit status is pytest's: the report is printed whether the tests passed or not.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
python -m coverage erase
status=0
python -m coverage run -m pytest "$@" || status=$?
python -m coverage combine --quiet || true  # nothing to combine (no test ran) is not an error here
python -m coverage report --skip-covered --sort=cover || true  # "no data" must not hide pytest's status
echo "Coverage by package (lines and branches):"
for init in */__init__.py; do  # every package of the code base, so a new one shows up by itself
  package="${init%/__init__.py}"
  [ "$package" = tests ] && continue
  printf '  %-9s %s%%\n' "$package/" "$(python -m coverage report --include="$package/*" --format=total 2>/dev/null || echo '-')"
done
echo "Modules of core/, storage/ and the domain (crm/, ai/) under 80% (docs/decisions.md \"Coverage\" says why):"
python -m coverage report --include='core/*,storage/*,crm/*,ai/*' --sort=cover 2>/dev/null \
  | awk '$NF ~ /%$/ && $1 != "TOTAL" && $NF + 0 < 80 {printf "  %-40s %s\n", $1, $NF}' || true
echo "Coverage total: $(python -m coverage report --format=total 2>/dev/null || echo '-')%"
exit "$status"
