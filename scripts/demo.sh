#!/usr/bin/env bash
# Start the demo: web server, RQ worker and scheduler, on the Redis at REDIS_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
py="$PWD/$(scripts/venv.sh | tail -n 1)"
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
port=${PORT:-8000}
cd demoproject
if ! "$py" -c "import redis, sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2).ping()" "$REDIS_URL" 2>/dev/null; then
    echo "Redis is not reachable at $REDIS_URL: start it (redis-server) or set REDIS_URL." >&2
    exit 1
fi
"$py" manage.py migrate --noinput -v 0
"$py" manage.py demo_seed
pids=()
stop() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo "Demo stopped."
}
trap stop INT TERM EXIT
"$py" manage.py rqworker default &
pids+=($!)
"$py" manage.py taskmanager scheduler &
pids+=($!)
"$py" manage.py runserver "127.0.0.1:$port" --noreload &
pids+=($!)
echo
echo "  django-eztaskmanager demo: http://127.0.0.1:$port/admin/  (user admin, password admin)"
echo "  Ctrl-C stops the web server, the worker and the scheduler."
echo
wait -n "${pids[@]}"
