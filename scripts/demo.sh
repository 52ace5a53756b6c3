#!/usr/bin/env bash
# Starts the registry on an embedded SQLite database filled with demonstration data.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${REGISTRY_VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e .
export REGISTRY_ENV=${REGISTRY_ENV:-development}
PORT=${PORT:-5000}
export REGISTRY_PUBLIC_URL=${REGISTRY_PUBLIC_URL:-http://127.0.0.1:$PORT}
FLASK="$VENV/bin/flask --app wsgi"
$FLASK db upgrade
$FLASK registry demo
echo "Registry on $REGISTRY_PUBLIC_URL — try $REGISTRY_PUBLIC_URL/api/v1/certificates and the labels listed above." >&2
# gunicorn.conf.py: metrics added up across workers, no stray control socket, workers forked from a loaded app.
exec "$VENV/bin/gunicorn" -c gunicorn.conf.py --workers "${WEB_CONCURRENCY:-2}" --bind "127.0.0.1:$PORT" --access-logfile - wsgi:app
