#!/usr/bin/env bash
# Start the demo: the web server, an RQ worker and the scheduler in one command.
# Redis: the one at REDIS_URL (default redis://127.0.0.1:6379/0) when it answers, otherwise an
# in-memory one started by the demo itself, so no Redis server is needed. PORT sets the port.
set -euo pipefail
cd "$(dirname "$0")/.."
py="$PWD/$(scripts/venv.sh | tail -n 1)"
port=${PORT:-8000}
cd demoproject
"$py" manage.py migrate --noinput -v 0
"$py" manage.py demo_seed
exec "$py" manage.py taskmanager devserver "127.0.0.1:$port" --banner "Log in as admin, password admin."
