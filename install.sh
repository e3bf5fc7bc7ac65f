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
PROGRAM_FILES=(agent.py cli runtime core desktop api crm ai storage tray windows assets locale requirements.txt
               requirements-llm.txt
               scripts/bootstrap.sh scripts/system-packages.sh scripts/lang.sh install.sh uninstall.sh LICENSE README.md)
MARKER=".crm-agent-install"

# The user's language and t() (scripts/lang.sh); this script's own texts are in `translate` below.
# shellcheck source=scripts/lang.sh
. "$SRC/scripts/lang.sh"

translate() {
  case "$UI_LANGUAGE:$1" in
    "pt_BR:unknown option: %s") echo "opção desconhecida: %s" ;;
    "es:unknown option: %s") echo "opción desconocida: %s" ;;
    "pt_BR:[y/N]") echo "[s/N]" ;;
    "es:[y/N]") echo "[s/N]" ;;
    "pt_BR:Tk for Python (tkinter)") echo "Tk para Python (tkinter)" ;;
    "es:Tk for Python (tkinter)") echo "Tk para Python (tkinter)" ;;
    "pt_BR:Python's venv module") echo "o módulo venv do Python" ;;
    "es:Python's venv module") echo "el módulo venv de Python" ;;
    "pt_BR:a C/C++ compiler and cmake (llama-cpp-python compiles from source)")
      echo "um compilador C/C++ e o cmake (o llama-cpp-python é compilado do código-fonte)" ;;
    "es:a C/C++ compiler and cmake (llama-cpp-python compiles from source)")
      echo "un compilador C/C++ y cmake (llama-cpp-python se compila desde el código fuente)" ;;
    "pt_BR:Missing:") echo "Falta instalar:" ;;
    "es:Missing:") echo "Falta instalar:" ;;
    "pt_BR:Install the Debian/Ubuntu packages the agent needs (uses sudo)?")
      echo "Instalar os pacotes do Debian/Ubuntu de que o agente precisa (usa sudo)?" ;;
    "es:Install the Debian/Ubuntu packages the agent needs (uses sudo)?")
      echo "¿Instalar los paquetes de Debian/Ubuntu que necesita el agente (usa sudo)?" ;;
    "pt_BR:install them (scripts/system-packages.sh lists them) and run install.sh again")
      echo "instale-os (a lista está em scripts/system-packages.sh) e rode o install.sh de novo" ;;
    "es:install them (scripts/system-packages.sh lists them) and run install.sh again")
      echo "instálalos (la lista está en scripts/system-packages.sh) y vuelve a ejecutar install.sh" ;;
    "pt_BR:still missing after installing packages: %s") echo "ainda falta, mesmo depois de instalar os pacotes: %s" ;;
    "es:still missing after installing packages: %s") echo "todavía falta, aun después de instalar los paquetes: %s" ;;
    "pt_BR:install Python 3.10+ with Tk (python.org's installer, or: brew install python python-tk cmake), the
Xcode command line tools (xcode-select --install) and cmake, then run install.sh again (PYTHON=... picks one)")
      echo "instale o Python 3.10+ com Tk (o instalador do python.org, ou: brew install python python-tk cmake), as
ferramentas de linha de comando do Xcode (xcode-select --install) e o cmake, e rode o install.sh de novo (PYTHON=... escolhe qual)" ;;
    "es:install Python 3.10+ with Tk (python.org's installer, or: brew install python python-tk cmake), the
Xcode command line tools (xcode-select --install) and cmake, then run install.sh again (PYTHON=... picks one)")
      echo "instala Python 3.10+ con Tk (el instalador de python.org, o: brew install python python-tk cmake), las
herramientas de línea de comandos de Xcode (xcode-select --install) y cmake, y vuelve a ejecutar install.sh (PYTHON=... elige cuál)" ;;
    "pt_BR:install Python 3.10+ with Tk and venv, a C/C++ compiler and cmake, then run install.sh again")
      echo "instale o Python 3.10+ com Tk e venv, um compilador C/C++ e o cmake, e rode o install.sh de novo" ;;
    "es:install Python 3.10+ with Tk and venv, a C/C++ compiler and cmake, then run install.sh again")
      echo "instala Python 3.10+ con Tk y venv, un compilador C/C++ y cmake, y vuelve a ejecutar install.sh" ;;
    "pt_BR:program: running from %s itself; files kept") echo "programa: rodando a partir do próprio %s; arquivos mantidos" ;;
    "es:program: running from %s itself; files kept") echo "programa: se ejecuta desde el propio %s; archivos conservados" ;;
    "pt_BR:%s exists and was not made by install.sh; choose another --prefix")
      echo "%s já existe e não foi criado pelo install.sh; escolha outro --prefix" ;;
    "es:%s exists and was not made by install.sh; choose another --prefix")
      echo "%s ya existe y no lo creó install.sh; elige otro --prefix" ;;
    "pt_BR:program: %s") echo "programa: %s" ;;
    "es:program: %s") echo "programa: %s" ;;
    "pt_BR:environment: %s") echo "ambiente: %s" ;;
    "es:environment: %s") echo "entorno: %s" ;;
    "pt_BR:command: %s") echo "comando: %s" ;;
    "es:command: %s") echo "comando: %s" ;;
    "pt_BR:Start CRM Agent when you log in?") echo "Abrir o CRM Agent quando você entrar na sessão?" ;;
    "es:Start CRM Agent when you log in?") echo "¿Abrir CRM Agent al iniciar sesión?" ;;
    "pt_BR:start on login: not changed (%s)") echo "abrir ao entrar na sessão: sem mudança (%s)" ;;
    "es:start on login: not changed (%s)") echo "abrir al iniciar sesión: sin cambios (%s)" ;;
    "pt_BR:start on login: not enabled (later: crm-agent autostart on, or the tray menu)")
      echo "abrir ao entrar na sessão: desativado (depois: crm-agent autostart on, ou pelo menu do ícone)" ;;
    "es:start on login: not enabled (later: crm-agent autostart on, or the tray menu)")
      echo "abrir al iniciar sesión: desactivado (después: crm-agent autostart on, o desde el menú del ícono)" ;;
    "pt_BR:CRM Agent is installed. Start it with:") echo "O CRM Agent está instalado. Para abrir:" ;;
    "es:CRM Agent is installed. Start it with:") echo "CRM Agent está instalado. Para abrirlo:" ;;
    "pt_BR:the desktop agent: tray icon + service (on port 8080)") echo "o agente completo: ícone na bandeja + serviço (na porta 8080)" ;;
    "es:the desktop agent: tray icon + service (on port 8080)") echo "el agente completo: ícono en la bandeja + servicio (en el puerto 8080)" ;;
    "pt_BR:the service alone, e.g. on a machine without a display") echo "só o serviço, por exemplo num computador sem tela" ;;
    "es:the service alone, e.g. on a machine without a display") echo "solo el servicio, por ejemplo en una computadora sin pantalla" ;;
    "pt_BR:The first start creates the user 'admin' and prints its password once (also kept in
admin_password.txt in the data directory). Remove it with: %s [--purge]")
      echo "O primeiro início cria o usuário 'admin' e mostra a senha dele uma vez (ela também fica em
admin_password.txt na pasta de dados). Para desinstalar: %s [--purge]" ;;
    "es:The first start creates the user 'admin' and prints its password once (also kept in
admin_password.txt in the data directory). Remove it with: %s [--purge]")
      echo "El primer inicio crea el usuario 'admin' y muestra su contraseña una vez (también queda en
admin_password.txt en la carpeta de datos). Para desinstalar: %s [--purge]" ;;
    "pt_BR:Note: %s is not on your PATH; add it, or run %s.") echo "Atenção: %s não está no seu PATH; adicione-o, ou rode %s." ;;
    "es:Note: %s is not on your PATH; add it, or run %s.") echo "Atención: %s no está en tu PATH; agrégalo, o ejecuta %s." ;;
    *) printf '%s' "$1" ;;  # not in the table: English
  esac
}

usage() {
  case "$UI_LANGUAGE" in
    pt_BR) cat <<'TEXT'
Instala o CRM Agent para o usuário atual a partir desta pasta (Linux e macOS). Pode rodar de novo:
uma segunda vez com as mesmas opções não muda nada (os arquivos do programa são atualizados a partir desta pasta).

  ./install.sh [--yes] [--autostart | --no-autostart] [--prefix DIR] [--bin-dir DIR] [--data-dir DIR]

  --yes            responde sim a todas as perguntas (instalar pacotes do sistema que faltam, abrir ao entrar)
  --autostart      abre o agente ao entrar na sessão, sem perguntar
  --no-autostart   não pergunta sobre abrir ao entrar (mantém o que já estiver configurado)
  --prefix DIR     onde ficam o programa e o ambiente virtual dele (padrão ~/.local/lib/crm-agent)
  --bin-dir DIR    onde fica o comando `crm-agent` (padrão ~/.local/bin)
  --data-dir DIR   a pasta de dados (padrão: a do sistema, veja o README); o uninstall.sh a mantém

Ambiente: PYTHON (o interpretador usado para criar o ambiente, padrão python3), CMAKE_ARGS (para o
llama-cpp-python; padrão -DGGML_NATIVE=OFF, para funcionar em qualquer CPU x86-64/arm64).
TEXT
    ;;
    es) cat <<'TEXT'
Instala CRM Agent para el usuario actual desde esta carpeta (Linux y macOS). Se puede ejecutar otra vez:
una segunda vez con las mismas opciones no cambia nada (los archivos del programa se actualizan desde esta carpeta).

  ./install.sh [--yes] [--autostart | --no-autostart] [--prefix DIR] [--bin-dir DIR] [--data-dir DIR]

  --yes            responde sí a todas las preguntas (instalar paquetes del sistema que faltan, abrir al iniciar)
  --autostart      abre el agente al iniciar sesión, sin preguntar
  --no-autostart   no pregunta por abrir al iniciar sesión (deja lo que ya esté configurado)
  --prefix DIR     dónde van el programa y su entorno virtual (predeterminado ~/.local/lib/crm-agent)
  --bin-dir DIR    dónde va el comando `crm-agent` (predeterminado ~/.local/bin)
  --data-dir DIR   la carpeta de datos (predeterminada: la del sistema, ver el README); uninstall.sh la conserva

Entorno: PYTHON (el intérprete con el que se crea el entorno, predeterminado python3), CMAKE_ARGS (para
llama-cpp-python; predeterminado -DGGML_NATIVE=OFF, para que funcione en cualquier CPU x86-64/arm64).
TEXT
    ;;
    *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' ;;
  esac
  exit "${1:-0}"
}
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
    *) say "$(t "unknown option: %s" "$1")" >&2; usage 2 ;;
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
  read -r -p "$1 $(t "[y/N]") " reply || return 1
  # y/yes, and s/sim/si/sí where the question was asked in Portuguese or Spanish.
  case "$reply" in [yY]|[yY][eE][sS]|[sS]|[sS][iI][mM]|[sS][iIíÍ]) return 0 ;; *) return 1 ;; esac
}

python_ok() { "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; }
tk_ok() { "$PYTHON" -c 'import tkinter; tkinter.Tcl()' >/dev/null 2>&1; }
venv_ok() { "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; }
compiler_ok() { command -v cmake >/dev/null 2>&1 && { command -v cc >/dev/null 2>&1 || command -v c++ >/dev/null 2>&1; }; }

missing_prerequisites() {
  local missing=()
  command -v "$PYTHON" >/dev/null 2>&1 || { say "Python 3.10+"; return; }
  python_ok || missing+=("Python 3.10+ ($PYTHON is $("$PYTHON" -c 'import platform; print(platform.python_version())'))")
  tk_ok || missing+=("$(t "Tk for Python (tkinter)")")
  venv_ok || missing+=("$(t "Python's venv module")")
  compiler_ok || missing+=("$(t "a C/C++ compiler and cmake (llama-cpp-python compiles from source)")")
  [ ${#missing[@]} -eq 0 ] || printf '%s\n' "${missing[@]}"
}

check_prerequisites() {
  local missing
  missing="$(missing_prerequisites)"
  [ -z "$missing" ] && return 0
  say "$(t "Missing:") "; say "$missing" | sed 's/^/  - /'
  if command -v apt-get >/dev/null 2>&1 && [ "$PYTHON" = python3 ]; then
    confirm "$(t "Install the Debian/Ubuntu packages the agent needs (uses sudo)?")" ||
      die "$(t "install them (scripts/system-packages.sh lists them) and run install.sh again")"
    bash "$SRC/scripts/system-packages.sh"
    missing="$(missing_prerequisites)"
    [ -z "$missing" ] || die "$(t "still missing after installing packages: %s" "$missing")"
  elif [ "$(uname -s)" = Darwin ]; then
    die "$(t "install Python 3.10+ with Tk (python.org's installer, or: brew install python python-tk cmake), the
Xcode command line tools (xcode-select --install) and cmake, then run install.sh again (PYTHON=... picks one)")"
  else
    die "$(t "install Python 3.10+ with Tk and venv, a C/C++ compiler and cmake, then run install.sh again")"
  fi
}

copy_program() {
  if [ "$SRC" = "$PREFIX" ]; then
    say "$(t "program: running from %s itself; files kept" "$PREFIX")"
    return
  fi
  if [ -e "$PREFIX" ] && [ ! -e "$PREFIX/$MARKER" ] && [ -n "$(ls -A "$PREFIX" 2>/dev/null)" ]; then
    die "$(t "%s exists and was not made by install.sh; choose another --prefix" "$PREFIX")"
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
  say "$(t "program: %s" "$PREFIX")"
}

make_environment() {
  # bootstrap.sh creates .venv next to it and installs the pinned requirements; pip skips what is there.
  PYTHON="$PYTHON" bash "$PREFIX/scripts/bootstrap.sh"
  say "$(t "environment: %s" "$PREFIX/.venv")"
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
  say "$(t "command: %s" "$launcher")"
}

offer_autostart() {
  local data_args=()
  [ -n "$DATA_DIR" ] && data_args=(--data-dir "$DATA_DIR")
  if [ "$AUTOSTART" = ask ]; then
    if confirm "$(t "Start CRM Agent when you log in?")"; then AUTOSTART=on; else AUTOSTART=skip; fi
  fi
  case "$AUTOSTART" in
    on) agent autostart on "${data_args[@]}" ;;
    off) say "$(t "start on login: not changed (%s)" "$(agent autostart status)")" ;;
    *) say "$(t "start on login: not enabled (later: crm-agent autostart on, or the tray menu)")" ;;
  esac
}

print_next_steps() {
  say ""
  say "$(t "CRM Agent is installed. Start it with:")"
  say "  crm-agent              # $(t "the desktop agent: tray icon + service (on port 8080)")"
  say "  crm-agent serve        # $(t "the service alone, e.g. on a machine without a display")"
  say "$(t "The first start creates the user 'admin' and prints its password once (also kept in
admin_password.txt in the data directory). Remove it with: %s [--purge]" "$PREFIX/uninstall.sh")"
  case ":$PATH:" in *":$BIN_DIR:"*) ;;
    *) say "$(t "Note: %s is not on your PATH; add it, or run %s." "$BIN_DIR" "$BIN_DIR/crm-agent")" ;;
  esac
}

check_prerequisites
copy_program
make_environment
agent init
write_launcher
offer_autostart
print_next_steps
