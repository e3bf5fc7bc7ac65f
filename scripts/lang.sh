# Sourced by install.sh and uninstall.sh: the user's language and t(), which prints a text in it.
#
# The scripts speak the user's language (pt_BR, es, else English), chosen from the locale the way the agent
# chooses it for ui.language "auto" (core/i18n.py). A table in each script (its `translate` function), not
# gettext: the installer runs before the program, its catalogs and Python's gettext are in place, and shell
# gettext is not on every system.

ui_language() {
  local value part
  for value in "${LANGUAGE:-}" "${LC_ALL:-}" "${LC_MESSAGES:-}" "${LANG:-}"; do
    for part in ${value//:/ }; do  # LANGUAGE lists several, in order: the first one we speak wins
      case "$part" in
        pt*) echo pt_BR; return ;;
        es*) echo es; return ;;
        en*) echo en; return ;;
      esac
    done
  done
  echo en
}
UI_LANGUAGE="$(ui_language)"

# t TEXT [ARG...]: TEXT (English, printf's %s for the arguments) in the user's language, through the sourcing
# script's `translate` table.
t() {
  local text="$1"; shift
  [ "$UI_LANGUAGE" = en ] || text="$(translate "$text")"
  # shellcheck disable=SC2059 - the format is our own table's
  printf "$text" "$@"
}
