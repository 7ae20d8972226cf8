#!/bin/sh
# The image's entry point: a process name, then that process's own flags, e.g. `api --port 9000`.
# Every process reads DATABASE_URL; without it, `space` starts an embedded PostgreSQL.
set -eu
cd /app

usage() {
  cat <<'USAGE'
commands (each followed by its own flags):
  migrate    apply the schema (python -m sql), create the api's and listener's login roles when
             API_DB_PASSWORD / LISTENER_DB_PASSWORD are set (docker/logins.py), then register
             the image's models in the database
  api        the API on 0.0.0.0:${FUTURISYS_API_PORT:-8000} (python -m service)
  listener   the listener daemon (python -m listener: --concurrency, --poll-only, ...)
  ui         the dashboard on 0.0.0.0:${FUTURISYS_UI_PORT:-8501} (FUTURISYS_API_URL, FUTURISYS_API_KEY)
  train      python -m model_store train [--force]   (models: any python -m model_store command)
  keys       python -m service keys create|revoke|list ...
  sql        python -m sql ...
  space      API, listener and dashboard in one container, dashboard on 0.0.0.0:7860 (a Space);
             embedded PostgreSQL unless DATABASE_URL is set
  help       this text; anything else is run as a command
USAGE
}

command=${1:-help}
[ $# -gt 0 ] && shift
case "$command" in
  migrate)
    python -m sql "$@"
    python docker/logins.py
    exec python -m model_store register ;;
  api)
    exec python -m service --host 0.0.0.0 --port "${FUTURISYS_API_PORT:-8000}" "$@" ;;
  listener)
    exec python -m listener "$@" ;;
  ui)
    exec python -m streamlit run ui/app.py --server.headless true --server.address 0.0.0.0 \
      --server.port "${FUTURISYS_UI_PORT:-8501}" --browser.gatherUsageStats false \
      --client.toolbarMode minimal "$@" ;;
  train)
    exec python -m model_store train "$@" ;;
  models)
    exec python -m model_store "$@" ;;
  keys)
    exec python -m service keys "$@" ;;
  sql)
    exec python -m sql "$@" ;;
  space)
    export FUTURISYS_UI_HOST=0.0.0.0 FUTURISYS_UI_PORT="${FUTURISYS_UI_PORT:-7860}"
    exec python scripts/run_stack.py "$@" ;;
  help | -h | --help)
    usage ;;
  *)
    exec "$command" "$@" ;;
esac
