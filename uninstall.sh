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

# The user's language and t() (scripts/lang.sh); this script's own texts are in `translate` below.
# shellcheck source=scripts/lang.sh
. "$HERE/scripts/lang.sh"

translate() {
  case "$UI_LANGUAGE:$1" in
    "pt_BR:unknown option: %s") echo "opção desconhecida: %s" ;;
    "es:unknown option: %s") echo "opción desconocida: %s" ;;
    "pt_BR:[y/N]") echo "[s/N]" ;;
    "es:[y/N]") echo "[s/N]" ;;
    "pt_BR:stopping the running agent (pids %s)") echo "fechando o agente em execução (pids %s)" ;;
    "es:stopping the running agent (pids %s)") echo "cerrando el agente en ejecución (pids %s)" ;;
    "pt_BR:removed %s") echo "removido: %s" ;;
    "es:removed %s") echo "eliminado: %s" ;;
    "pt_BR:program: %s is not there (already removed)") echo "programa: %s não existe (já foi removido)" ;;
    "es:program: %s is not there (already removed)") echo "programa: %s no existe (ya se eliminó)" ;;
    "pt_BR:%s was not made by install.sh; not removing it") echo "%s não foi criado pelo install.sh; não será removido" ;;
    "es:%s was not made by install.sh; not removing it") echo "%s no lo creó install.sh; no se elimina" ;;
    "pt_BR:data: %s is not there") echo "dados: %s não existe" ;;
    "es:data: %s is not there") echo "datos: %s no existe" ;;
    "pt_BR:Delete %s (database, backups, config, logs)?") echo "Apagar %s (banco de dados, backups, configuração, registros)?" ;;
    "es:Delete %s (database, backups, config, logs)?") echo "¿Borrar %s (base de datos, copias de seguridad, configuración, registros)?" ;;
    "pt_BR:data kept: %s") echo "dados mantidos: %s" ;;
    "es:data kept: %s") echo "datos conservados: %s" ;;
    "pt_BR:data kept: %s (uninstall.sh --purge deletes it)") echo "dados mantidos: %s (uninstall.sh --purge apaga)" ;;
    "es:data kept: %s (uninstall.sh --purge deletes it)") echo "datos conservados: %s (uninstall.sh --purge los borra)" ;;
    *) printf '%s' "$1" ;;  # not in the table: English
  esac
}

usage() {
  case "$UI_LANGUAGE" in
    pt_BR) cat <<'TEXT'
Remove o que o install.sh instalou: abrir ao entrar na sessão, o comando `crm-agent` e o programa com o
ambiente virtual dele. A pasta de dados (banco de dados, configuração, backups, registros) fica, a não ser com --purge.

  uninstall.sh [--purge] [--yes] [--prefix DIR]

  --purge        apaga também a pasta de dados (pergunta antes, a não ser com --yes)
  --yes          não pergunta
  --prefix DIR   onde o install.sh colocou o programa (padrão ~/.local/lib/crm-agent)

Pode rodar de novo: o que já foi removido é pulado.
TEXT
    ;;
    es) cat <<'TEXT'
Quita lo que instaló install.sh: abrir al iniciar sesión, el comando `crm-agent` y el programa con su
entorno virtual. La carpeta de datos (base de datos, configuración, copias, registros) se conserva, salvo con --purge.

  uninstall.sh [--purge] [--yes] [--prefix DIR]

  --purge        borra también la carpeta de datos (pregunta antes, salvo con --yes)
  --yes          no pregunta
  --prefix DIR   dónde puso install.sh el programa (predeterminado ~/.local/lib/crm-agent)

Se puede ejecutar otra vez: lo que ya no está se omite.
TEXT
    ;;
    *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' ;;
  esac
}

while [ $# -gt 0 ]; do
  case "$1" in
    --purge) PURGE=1 ;;
    --yes|-y) ASSUME_YES=1 ;;
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "$(t "unknown option: %s" "$1")" ;;
  esac
  shift
done
case "$PREFIX" in /*) ;; *) PREFIX="$(pwd)/$PREFIX" ;; esac

confirm() {
  [ "$ASSUME_YES" = 1 ] && return 0
  [ -t 0 ] || return 1
  local reply
  read -r -p "$1 $(t "[y/N]") " reply || return 1
  # y/yes, and s/sim/si/sí where the question was asked in Portuguese or Spanish.
  case "$reply" in [yY]|[yY][eE][sS]|[sS]|[sS][iI][mM]|[sS][iIíÍ]) return 0 ;; *) return 1 ;; esac
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
  say "$(t "stopping the running agent (pids %s)" "$(echo "$pids" | tr '\n' ' ')")"
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
    say "$(t "removed %s" "$launcher")"
  fi
}

remove_program() {
  if [ ! -e "$PREFIX" ]; then
    say "$(t "program: %s is not there (already removed)" "$PREFIX")"
    return
  fi
  [ -f "$PREFIX/$MARKER" ] || die "$(t "%s was not made by install.sh; not removing it" "$PREFIX")"
  rm -rf "${PREFIX:?}"
  say "$(t "removed %s" "$PREFIX")"
}

purge_data() {
  [ -d "$data_dir" ] || { say "$(t "data: %s is not there" "$data_dir")"; return; }
  if confirm "$(t "Delete %s (database, backups, config, logs)?" "$data_dir")"; then
    rm -rf "${data_dir:?}"
    say "$(t "removed %s" "$data_dir")"
  else
    say "$(t "data kept: %s" "$data_dir")"
  fi
}

stop_running_agent
remove_autostart
remove_launcher
remove_program
if [ "$PURGE" = 1 ]; then purge_data
elif [ -d "$data_dir" ]; then say "$(t "data kept: %s (uninstall.sh --purge deletes it)" "$data_dir")"; fi
