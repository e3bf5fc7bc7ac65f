#!/usr/bin/env bash
# Install CRM Agent for the current user from this source tree (Linux and macOS). Safe to run again:
# a second run with the same options changes nothing (the program files are refreshed from this tree).
#
#   ./install.sh [--yes] [--autostart | --no-autostart] [--prefix DIR] [--bin-dir DIR] [--data-dir DIR]
#
#   --yes            answer yes to every question (install missing system packages, start on login)
#   --autostart      start the desktop agent on login without asking
#   --no-autostart   do not ask about starting on login (leaves an existing setting alone)
#   --prefix DIR     where the program and its virtual environment go (default ~/.local/lib/crm-agent)
#   --bin-dir DIR    where the `crm-agent` command goes (default ~/.local/bin)
#   --data-dir DIR   the data directory (default: the platform's, see README); kept by uninstall.sh
#
# Environment: PYTHON (the interpreter to build the environment from, default python3), CMAKE_ARGS (for
# llama-cpp-python; default -DGGML_NATIVE=OFF so the build runs on any x86-64/arm64 CPU).
set -euo pipefail

SRC="$(cd "$(dirname "$0")" && pwd)"
PREFIX="$HOME/.local/lib/crm-agent"
BIN_DIR="$HOME/.local/bin"
DATA_DIR=""
ASSUME_YES=0
AUTOSTART=ask
PYTHON="${PYTHON:-python3}"
# What the installed program is made of (everything else in the tree is for development).
PROGRAM_FILES=(agent.py cli runtime core desktop api crm ai storage tray windows assets requirements.txt
               requirements-llm.txt
               scripts/bootstrap.sh scripts/system-packages.sh install.sh uninstall.sh LICENSE README.md)
MARKER=".crm-agent-install"

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
say() { printf '%s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --yes|-y) ASSUME_YES=1 ;;
    --autostart) AUTOSTART=on ;;
    --no-autostart) AUTOSTART=off ;;
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift ;;
    --bin-dir) BIN_DIR="${2:?--bin-dir needs a directory}"; shift ;;
    --data-dir) DATA_DIR="${2:?--data-dir needs a directory}"; shift ;;
    -h|--help) usage 0 ;;
    *) say "unknown option: $1" >&2; usage 2 ;;
  esac
  shift
done
[ "$AUTOSTART" = ask ] && [ "$ASSUME_YES" = 1 ] && AUTOSTART=on
case "$PREFIX" in /*) ;; *) PREFIX="$(pwd)/$PREFIX" ;; esac
case "$BIN_DIR" in /*) ;; *) BIN_DIR="$(pwd)/$BIN_DIR" ;; esac
if [ -n "$DATA_DIR" ]; then case "$DATA_DIR" in /*) ;; *) DATA_DIR="$(pwd)/$DATA_DIR" ;; esac; fi

# Yes/no question: --yes answers yes; without a terminal the answer is no.
confirm() {
  [ "$ASSUME_YES" = 1 ] && return 0
  [ -t 0 ] || return 1
  local reply
  read -r -p "$1 [y/N] " reply || return 1
  case "$reply" in [yY]|[yY][eE][sS]) return 0 ;; *) return 1 ;; esac
}

python_ok() { "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; }
tk_ok() { "$PYTHON" -c 'import tkinter; tkinter.Tcl()' >/dev/null 2>&1; }
venv_ok() { "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; }
compiler_ok() { command -v cmake >/dev/null 2>&1 && { command -v cc >/dev/null 2>&1 || command -v c++ >/dev/null 2>&1; }; }

missing_prerequisites() {
  local missing=()
  command -v "$PYTHON" >/dev/null 2>&1 || { say "Python 3.10+"; return; }
  python_ok || missing+=("Python 3.10+ ($PYTHON is $("$PYTHON" -c 'import platform; print(platform.python_version())'))")
  tk_ok || missing+=("Tk for Python (tkinter)")
  venv_ok || missing+=("Python's venv module")
  compiler_ok || missing+=("a C/C++ compiler and cmake (llama-cpp-python compiles from source)")
  [ ${#missing[@]} -eq 0 ] || printf '%s\n' "${missing[@]}"
}

check_prerequisites() {
  local missing
  missing="$(missing_prerequisites)"
  [ -z "$missing" ] && return 0
  say "Missing: "; say "$missing" | sed 's/^/  - /'
  if command -v apt-get >/dev/null 2>&1 && [ "$PYTHON" = python3 ]; then
    confirm "Install the Debian/Ubuntu packages the agent needs (uses sudo)?" ||
      die "install them (scripts/system-packages.sh lists them) and run install.sh again"
    bash "$SRC/scripts/system-packages.sh"
    missing="$(missing_prerequisites)"
    [ -z "$missing" ] || die "still missing after installing packages: $missing"
  elif [ "$(uname -s)" = Darwin ]; then
    die "install Python 3.10+ with Tk (python.org's installer, or: brew install python python-tk cmake), the
Xcode command line tools (xcode-select --install) and cmake, then run install.sh again (PYTHON=... picks one)"
  else
    die "install Python 3.10+ with Tk and venv, a C/C++ compiler and cmake, then run install.sh again"
  fi
}

copy_program() {
  if [ "$SRC" = "$PREFIX" ]; then
    say "program: running from $PREFIX itself; files kept"
    return
  fi
  if [ -e "$PREFIX" ] && [ ! -e "$PREFIX/$MARKER" ] && [ -n "$(ls -A "$PREFIX" 2>/dev/null)" ]; then
    die "$PREFIX exists and was not made by install.sh; choose another --prefix"
  fi
  mkdir -p "$PREFIX"
  local present=()
  for item in "${PROGRAM_FILES[@]}"; do
    [ -e "$SRC/$item" ] && present+=("$item")
    # Replace whole packages so a file removed upstream does not linger in the installed copy.
    [ -d "$PREFIX/$item" ] && rm -rf "${PREFIX:?}/$item"
  done
  tar -C "$SRC" --exclude=__pycache__ --exclude='*.pyc' -cf - "${present[@]}" | tar -C "$PREFIX" -xf -
  touch "$PREFIX/$MARKER"
  say "program: $PREFIX"
}

make_environment() {
  # bootstrap.sh creates .venv next to it and installs the pinned requirements; pip skips what is there.
  PYTHON="$PYTHON" bash "$PREFIX/scripts/bootstrap.sh"
  say "environment: $PREFIX/.venv"
}

agent() {
  if [ -n "$DATA_DIR" ]; then
    CRM_AGENT_HOME="$DATA_DIR" "$PREFIX/.venv/bin/python" "$PREFIX/agent.py" "$@"
  else
    "$PREFIX/.venv/bin/python" "$PREFIX/agent.py" "$@"
  fi
}

write_launcher() {
  local launcher="$BIN_DIR/crm-agent" content
  content="#!/bin/sh
# CRM Agent launcher written by install.sh (removed by uninstall.sh).
"
  [ -n "$DATA_DIR" ] && content+="CRM_AGENT_HOME=\${CRM_AGENT_HOME:-'$DATA_DIR'}; export CRM_AGENT_HOME
"
  content+="exec '$PREFIX/.venv/bin/python' '$PREFIX/agent.py' \"\$@\"
"
  mkdir -p "$BIN_DIR"
  if [ ! -f "$launcher" ] || [ "$(cat "$launcher")" != "${content%$'\n'}" ]; then
    printf '%s' "$content" > "$launcher"
  fi
  chmod 755 "$launcher"
  # uninstall.sh reads where things went from here.
  printf 'BIN_DIR=%q\nDATA_DIR=%q\n' "$BIN_DIR" "$DATA_DIR" > "$PREFIX/install.env.tmp"
  if cmp -s "$PREFIX/install.env.tmp" "$PREFIX/install.env"; then rm "$PREFIX/install.env.tmp"
  else mv "$PREFIX/install.env.tmp" "$PREFIX/install.env"; fi
  say "command: $launcher"
}

offer_autostart() {
  local data_args=()
  [ -n "$DATA_DIR" ] && data_args=(--data-dir "$DATA_DIR")
  if [ "$AUTOSTART" = ask ]; then
    if confirm "Start CRM Agent when you log in?"; then AUTOSTART=on; else AUTOSTART=skip; fi
  fi
  case "$AUTOSTART" in
    on) agent autostart on "${data_args[@]}" ;;
    off) say "start on login: not changed ($(agent autostart status))" ;;
    *) say "start on login: not enabled (later: crm-agent autostart on, or the tray menu)" ;;
  esac
}

print_next_steps() {
  say ""
  say "CRM Agent is installed. Start it with:"
  say "  crm-agent              # the desktop agent: tray icon + service (on port 8080)"
  say "  crm-agent serve        # the service alone, e.g. on a machine without a display"
  say "The first start creates the user 'admin' and prints its password once (also kept in"
  say "admin_password.txt in the data directory). Remove it with: $PREFIX/uninstall.sh [--purge]"
  case ":$PATH:" in *":$BIN_DIR:"*) ;; *) say "Note: $BIN_DIR is not on your PATH; add it, or run $BIN_DIR/crm-agent." ;; esac
}

check_prerequisites
copy_program
make_environment
agent init
write_launcher
offer_autostart
print_next_steps
