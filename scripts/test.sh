#!/usr/bin/env bash
# Runs the whole test suite, installing what it needs first. Extra arguments go to pytest.
# REGISTRY_TEST_DATABASE_URL=postgresql+psycopg://… runs it on PostgreSQL instead of SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${REGISTRY_VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[test,image]"
# Browser tests drive Debian's Chromium; labels and screenshots need a CJK font on the host only
# for the browser (labels carry their own outlines).
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "wqy\|noto sans cjk"; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei) >/dev/null
  else
    echo "warning: install Debian's chromium and fonts-wqy-microhei for the browser tests" >&2
  fi
fi
# axe-core (npm) for the accessibility checks of every page.
AXE_VERSION=4.10.3
if [ ! -f tests/.node/node_modules/axe-core/axe.min.js ] || \
   ! grep -q "\"version\": \"$AXE_VERSION\"" tests/.node/node_modules/axe-core/package.json; then
  if command -v npm >/dev/null 2>&1; then
    npm install --prefix tests/.node --no-save --no-audit --no-fund --silent "axe-core@$AXE_VERSION" >/dev/null
  else
    echo "warning: install Node.js and npm for the accessibility tests (axe-core)" >&2
  fi
fi
exec "$VENV/bin/python" -m pytest "$@"
