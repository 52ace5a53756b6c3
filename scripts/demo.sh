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
# TLS (PACT requires HTTPS): TLS_CERT and TLS_KEY name a certificate and its key for gunicorn.
TLS_ARGS=()
if [ -n "${TLS_CERT:-}" ]; then
  TLS_ARGS=(--certfile "$TLS_CERT" --keyfile "${TLS_KEY:?TLS_KEY is needed with TLS_CERT}")
fi
echo "Registry on $REGISTRY_PUBLIC_URL — try $REGISTRY_PUBLIC_URL/api/v1/certificates and the labels listed above." >&2
# gunicorn.conf.py: metrics added up across workers, no stray control socket, workers forked from a loaded app.
# The worker delivers webhooks and PACT callbacks; it stops when the server stops, and a signal
# to this script stops both.
$FLASK registry worker &
WORKER=$!
"$VENV/bin/gunicorn" -c gunicorn.conf.py --workers "${WEB_CONCURRENCY:-2}" --bind "127.0.0.1:$PORT" --access-logfile - "${TLS_ARGS[@]}" wsgi:app &
SERVER=$!
trap 'kill -TERM "$SERVER" 2>/dev/null' INT TERM
status=0
wait "$SERVER" || status=$?
wait "$SERVER" 2>/dev/null || true
kill -TERM "$WORKER" 2>/dev/null || true
wait "$WORKER" 2>/dev/null || true
exit "$status"
