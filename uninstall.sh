#!/usr/bin/env bash
# Remove what install.sh installed: start on login, the `crm-agent` command and the program with its
# virtual environment. The data directory (database, config, backups, logs) stays unless --purge.
#
#   uninstall.sh [--purge] [--yes] [--prefix DIR]
#
#   --purge        also delete the data directory (asks first unless --yes)
#   --yes          do not ask
#   --prefix DIR   where install.sh put the program (default ~/.local/lib/crm-agent)
#
# Safe to run again: what is already gone is skipped.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
PREFIX="$HOME/.local/lib/crm-agent"
[ -f "$HERE/.crm-agent-install" ] && PREFIX="$HERE"  # run from the installed copy
PURGE=0
ASSUME_YES=0
MARKER=".crm-agent-install"

say() { printf '%s\n' "$*"; }
die() { printf 'uninstall.sh: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --purge) PURGE=1 ;;
    --yes|-y) ASSUME_YES=1 ;;
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option: $1" ;;
  esac
  shift
done
case "$PREFIX" in /*) ;; *) PREFIX="$(pwd)/$PREFIX" ;; esac

confirm() {
  [ "$ASSUME_YES" = 1 ] && return 0
  [ -t 0 ] || return 1
  local reply
  read -r -p "$1 [y/N] " reply || return 1
  case "$reply" in [yY]|[yY][eE][sS]) return 0 ;; *) return 1 ;; esac
}

BIN_DIR="$HOME/.local/bin"
DATA_DIR=""
if [ -f "$PREFIX/install.env" ]; then
  # shellcheck disable=SC1091
  . "$PREFIX/install.env"
fi
PY="$PREFIX/.venv/bin/python"
installed() { [ -x "$PY" ] && [ -f "$PREFIX/agent.py" ]; }
agent() {
  if [ -n "$DATA_DIR" ]; then CRM_AGENT_HOME="$DATA_DIR" "$PY" "$PREFIX/agent.py" "$@"
  else "$PY" "$PREFIX/agent.py" "$@"; fi
}

# Where the data is: asked from the program while it is there (before it goes away), else the same rule
# core/paths.py follows ($CRM_AGENT_HOME, else the platform's per-user data directory).
default_data_dir() {
  if [ -n "${CRM_AGENT_HOME:-}" ]; then printf '%s\n' "$CRM_AGENT_HOME"
  elif [ "$(uname -s)" = Darwin ]; then printf '%s\n' "$HOME/Library/Application Support/crm-agent"
  else printf '%s\n' "${XDG_DATA_HOME:-$HOME/.local/share}/crm-agent"; fi
}
data_dir="$DATA_DIR"
if [ -z "$data_dir" ] && installed; then
  data_dir="$(cd "$PREFIX" && "$PY" -c 'from core.paths import resolve_data_dir; print(resolve_data_dir(None))')"
fi
[ -n "$data_dir" ] || data_dir="$(default_data_dir)"

stop_running_agent() {
  # Processes of this installation only: their command line names this prefix's agent.py.
  local pids
  pids="$(pgrep -f "$PREFIX/agent.py" || true)"
  [ -z "$pids" ] && return
  say "stopping the running agent (pids $(echo "$pids" | tr '\n' ' '))"
  for pid in $pids; do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    pids="$(pgrep -f "$PREFIX/agent.py" || true)"
    [ -z "$pids" ] && return
    sleep 0.1
  done
  for pid in $pids; do kill -9 "$pid" 2>/dev/null || true; done
}

remove_autostart() {
  if installed; then
    agent autostart off
    return
  fi
  # No working program left: remove the entries autostart would have written.
  rm -f "${XDG_CONFIG_HOME:-$HOME/.config}/autostart/crm-agent.desktop" \
        "$HOME/Library/LaunchAgents/com.crm-agent.agent.plist"
}

remove_launcher() {
  local launcher="$BIN_DIR/crm-agent"
  if [ -f "$launcher" ] && grep -q "$PREFIX/agent.py" "$launcher"; then
    rm -f "$launcher"
    say "removed $launcher"
  fi
}

remove_program() {
  if [ ! -e "$PREFIX" ]; then
    say "program: $PREFIX is not there (already removed)"
    return
  fi
  [ -f "$PREFIX/$MARKER" ] || die "$PREFIX was not made by install.sh; not removing it"
  rm -rf "${PREFIX:?}"
  say "removed $PREFIX"
}

purge_data() {
  [ -d "$data_dir" ] || { say "data: $data_dir is not there"; return; }
  if confirm "Delete $data_dir (database, backups, config, logs)?"; then
    rm -rf "${data_dir:?}"
    say "removed $data_dir"
  else
    say "data kept: $data_dir"
  fi
}

stop_running_agent
remove_autostart
remove_launcher
remove_program
if [ "$PURGE" = 1 ]; then purge_data
elif [ -d "$data_dir" ]; then say "data kept: $data_dir (uninstall.sh --purge deletes it)"; fi
