#!/bin/sh
# /opt/prefect/entrypoint.sh of nightshift's image. The prefect-worker Helm chart starts its container as
# `tini -g -- /opt/prefect/entrypoint.sh prefect worker start --type process --pool … [options]`: such a
# worker becomes `nightshift worker`, which starts the same Prefect worker (same options) with a fork server
# beside it, so flow runs start in about a second. Any other command runs as given.
set -e
if [ "$#" -ge 3 ] && [ "$1" = prefect ] && [ "$2" = worker ] && [ "$3" = start ]; then
    shift 3
    exec nightshift worker "$@"
fi
exec "$@"
