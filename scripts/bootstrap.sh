#!/usr/bin/env bash
# Create .venv and install the pinned Python dependencies. Sourced by run-agent.sh and test.sh.
# Usage: scripts/bootstrap.sh [--dev]   (--dev adds the test and lint tools)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install --quiet --disable-pip-version-check --upgrade "pip==25.3"
python -m pip install --quiet --disable-pip-version-check -r requirements.txt
# llama-cpp-python has no wheels on PyPI and compiles from source (~4 min on 2 cores; pip caches the built
# wheel, so later installs take seconds). A native build (-march=native) crashed in decode on this kind of
# CPU, so build it portably.
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" FORCE_CMAKE=1 \
  python -m pip install --quiet --disable-pip-version-check -r requirements-llm.txt
if [ "${1:-}" = "--dev" ]; then
  python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
fi
# The translations: compile locale/*/LC_MESSAGES/*.po into the .mo files gettext reads (not kept in git).
python -m core.i18n compile > /dev/null
