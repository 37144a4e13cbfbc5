#!/usr/bin/env bash
# The embedded default on one machine: a Prefect server on SQLite, a process worker on pool "cpu",
# nightshift's blocks and deployments, then the demo.
#   bash deployments/demo/local.sh demo    start what is not running, bootstrap, deploy, run the demo
#   bash deployments/demo/local.sh start   the same without the demo
#   bash deployments/demo/local.sh server  only the Prefect server
#   bash deployments/demo/local.sh stop    stop the Jobs API, the worker and the server
#   bash deployments/demo/local.sh env     print the exports that point a shell or notebook at this server
#   bash deployments/demo/local.sh token   print the Jobs API's bearer token
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export NIGHTSHIFT_HOME=${NIGHTSHIFT_HOME:-$ROOT/.nightshift}
export PREFECT_HOME=${PREFECT_HOME:-$NIGHTSHIFT_HOME/prefect}
PORT=${NIGHTSHIFT_PREFECT_PORT:-4200}
export PREFECT_API_URL=${PREFECT_API_URL:-http://127.0.0.1:$PORT/api}
export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# Pick up new runs within ~2 s instead of the default 10 s (a cheap query against a local server).
export PREFECT_WORKER_QUERY_SECONDS=${PREFECT_WORKER_QUERY_SECONDS:-2}
# Flow results persisted as JSON where the Jobs API reads them (tasks keep theirs in memory), and
# heartbeats for the watchdog (zombie runs).
export PREFECT_RESULTS_PERSIST_BY_DEFAULT=true PREFECT_TASKS_DEFAULT_PERSIST_RESULT=false
export PREFECT_RESULTS_DEFAULT_SERIALIZER=json
export PREFECT_LOCAL_STORAGE_PATH=${PREFECT_LOCAL_STORAGE_PATH:-$NIGHTSHIFT_HOME/results}
export PREFECT_FLOWS_HEARTBEAT_FREQUENCY=${PREFECT_FLOWS_HEARTBEAT_FREQUENCY:-30}
API_PORT=${NIGHTSHIFT_JOBS_API_PORT:-8000}
# Flow runs the worker runs at once: more than the cores can serve only slows every run (bench/jobs_burst.py).
WORKER_LIMIT=${NIGHTSHIFT_WORKER_LIMIT:-4}
# The deployments and schedules to create (bench/operations_soak.py passes a compressed copy).
PREFECT_YAML=${NIGHTSHIFT_PREFECT_YAML:-$ROOT/prefect.yaml}
export PATH=$ROOT/.venv/bin:$PATH
RUN=$NIGHTSHIFT_HOME/run
mkdir -p "$RUN"

alive() { [[ -f $RUN/$1.pid ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

start() {  # start NAME COMMAND…: in the background, once, logging to $RUN/NAME.log
  local name=$1; shift
  if alive "$name"; then echo "$name: already running (pid $(cat "$RUN/$name.pid"))"; return; fi
  nohup "$@" >"$RUN/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
  echo "$name: started (pid $!, log $RUN/$name.log)"
}

stop_one() {  # TERM, then KILL if still there after 15 s (nightshift worker itself stops in about 2 s)
  local name=$1
  alive "$name" || { rm -f "$RUN/$name.pid"; return 0; }
  local pid; pid=$(cat "$RUN/$name.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$name: still running 15 s after SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/$name.pid"
  echo "$name: stopped"
}

wait_healthy() {
  for _ in $(seq 120); do
    curl -fsS "$PREFECT_API_URL/health" >/dev/null 2>&1 && return 0
    alive server || { echo "the Prefect server exited; see $RUN/server.log" >&2; tail -20 "$RUN/server.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "the Prefect server did not become healthy in 60 s; see $RUN/server.log" >&2; exit 1
}

server() {  # the Prefect server, unless one answers already
  if curl -fsS "$PREFECT_API_URL/health" >/dev/null 2>&1; then
    echo "server: already answering at $PREFECT_API_URL"
  else
    start server python -m deployments.operations.server --host 127.0.0.1 --port "$PORT"
    wait_healthy
  fi
}

up() {  # start what is not running, bootstrap, deploy, start the worker and the Jobs API
  server
  nightshift bootstrap
  prefect --no-prompt deploy --all --prefect-file "$PREFECT_YAML" >"$RUN/deploy.log" 2>&1 || { cat "$RUN/deploy.log" >&2; exit 1; }
  echo "deployments: created from prefect.yaml (log $RUN/deploy.log)"
  nightshift bootstrap >/dev/null  # again, now that notify-failed-run exists: its automation
  start worker-cpu nightshift worker --pool cpu --name "local-cpu-$(hostname)" --limit "$WORKER_LIMIT"
  start jobs-api python -m deployments.api --host 127.0.0.1 --port "$API_PORT"
  for _ in $(seq 60); do
    curl -fsS "http://127.0.0.1:$API_PORT/health" >/dev/null 2>&1 && break
    alive jobs-api || { echo "the Jobs API exited (port $API_PORT taken? set NIGHTSHIFT_JOBS_API_PORT); see $RUN/jobs-api.log" >&2; tail -5 "$RUN/jobs-api.log" >&2; exit 1; }
    sleep 0.5
  done
}

case "${1:-demo}" in
  server)
    server
    ;;
  start)
    up
    ;;
  demo)
    up
    nightshift demo
    cat <<EOT

The server and the worker keep running so that you can look around:
  UI:        ${PREFECT_API_URL%/api}
  Jobs API:  http://127.0.0.1:$API_PORT/docs   (token: bash deployments/demo/local.sh token)
  outbox:    $NIGHTSHIFT_HOME/outbox
  logs:      $RUN/*.log
  use them:  eval "\$(bash deployments/demo/local.sh env)"   (then run flows, or 'prefect deployment ls')
  stop:      make stop      (or: bash deployments/demo/local.sh stop)
EOT
    ;;
  stop)
    stop_one jobs-api
    stop_one worker-cpu
    stop_one server
    ;;
  env)
    echo "export PREFECT_API_URL=$PREFECT_API_URL NIGHTSHIFT_HOME=$NIGHTSHIFT_HOME PREFECT_HOME=$PREFECT_HOME"
    echo "export PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 HF_HUB_OFFLINE=1"
    ;;
  token)
    python -c 'from prefect.blocks.system import Secret; print(Secret.load("nightshift-jobs-api-token").get())'
    ;;
  *) echo "usage: $0 demo|start|server|stop|env|token" >&2; exit 2 ;;
esac
