#!/usr/bin/env bash
# Gettext catalogs: extract the messages of each catalog's sources, update zh and en, compile.
# Run after changing user-facing text; then translate the new entries in the zh .po files.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${REGISTRY_VENV:-.venv}
PYBABEL="$VENV/bin/pybabel"
extract() {  # catalog, sources…
  local name=$1; shift
  local dir=registry/translations/$name
  mkdir -p "$dir"
  "$PYBABEL" -q extract -F babel.cfg --no-location --sort-output -k _l -o "$dir/messages.pot" "$@"
  for lang in zh en; do
    if [ -f "$dir/$lang/LC_MESSAGES/messages.po" ]; then
      "$PYBABEL" -q update --no-fuzzy-matching -i "$dir/messages.pot" -d "$dir" -l "$lang"
    else
      "$PYBABEL" -q init -i "$dir/messages.pot" -d "$dir" -l "$lang"
    fi
  done
  "$PYBABEL" -q compile -d "$dir"
}
consumer=()
for src in registry/templates registry/api registry/public_pages.py registry/public; do [ -e "$src" ] && consumer+=("$src"); done
extract consumer "${consumer[@]}"
if [ -d registry/portal ]; then extract portal registry/portal; fi
