#!/usr/bin/env bash
# Debian/Ubuntu packages the agent (and, with --test, the test suite) needs. Needs root or sudo.
# gettext (--test): msgfmt --statistics checks the translation catalogs (tests/test_i18n.py).
# Usage: scripts/system-packages.sh [--test]
set -euo pipefail

runtime=(python3 python3-venv python3-dev python3-tk build-essential cmake git)
# Tests: a virtual X server, a tray host, a private D-Bus session with a notification daemon, tools to
# drive and inspect windows, PostgreSQL for the hub, wrk for the HTTP benchmarks, Chromium for the browser
# extension's end-to-end tests (driven by Playwright through /usr/bin/chromium: no browser download), zip for
# the extension's packages (scripts/build-extension.sh), Firefox ESR for its Firefox end-to-end test (driven over
# Firefox's own WebDriver BiDi: no geckodriver).
testing=(xvfb xauth x11-utils xdotool trayer dbus dbus-x11 dunst libnotify-bin desktop-file-utils
         imagemagick postgresql wrk chromium zip unzip firefox-esr strace gettext)
# Installed when the distribution has them (Ubuntu has no firefox-esr): the tests that need them skip otherwise.
optional=(firefox-esr)

wanted=("${runtime[@]}")
if [ "${1:-}" = "--test" ]; then
  wanted+=("${testing[@]}")
  # The extension's unit tests and lint (npm ci, node --test, eslint, web-ext). Only when the commands are
  # missing: a node from another source (e.g. NodeSource's nodejs, which bundles npm) must not be replaced by
  # Debian's npm package.
  command -v node >/dev/null 2>&1 || wanted+=(nodejs)
  command -v npm >/dev/null 2>&1 || wanted+=(npm)
fi

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "Please install these packages with your system's package manager: ${missing[*]}" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "Need root to install: ${missing[*]}" >&2; exit 1
  fi
fi
# drop_unavailable: an optional package this distribution does not offer is left out, with a note.
drop_unavailable() {
  local available=() pkg policy
  for pkg in "${missing[@]}"; do
    # the whole answer first: `apt-cache ... | grep -q` fails under pipefail when grep stops reading early
    policy=$(apt-cache policy "$pkg" 2>/dev/null || true)
    if [[ " ${optional[*]} " == *" $pkg "* ]] && ! grep -q 'Candidate: [^(]' <<<"$policy"; then
      echo "Skipping $pkg: this distribution does not offer it (the tests that need it will be skipped)" >&2
      continue
    fi
    available+=("$pkg")
  done
  missing=("${available[@]}")
}
# With package lists already present, an unavailable optional package alone does not cost an apt-get update.
if compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
  drop_unavailable
  [ ${#missing[@]} -eq 0 ] && exit 0
fi
$SUDO apt-get update -qq
drop_unavailable
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing system packages: ${missing[*]}"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
