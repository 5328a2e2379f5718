#!/usr/bin/env bash
# Run the whole test suite against SQLite, then PostgreSQL.
# Redis, PostgreSQL and Chromium are brought up (or installed, as root) by scripts/services.sh;
# what cannot be had is named, and the tests needing it skip (EZTM_REQUIRE_ALL=1: fail instead).
# Extra arguments go to pytest, e.g. scripts/test.sh -k schedules
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/services.sh
source scripts/services.sh
ensure_services
py=$(scripts/venv.sh | tail -n 1)
"$py" - <<'PY'
import sys
from importlib.metadata import version

names = ["Django", "redis", "rq", "rq-scheduler", "django-rq", "croniter", "fakeredis"]
print("Python", sys.version.split()[0], "/", ", ".join(f"{n} {version(n)}" for n in names))
PY
status=0
for db in ${EZTM_TEST_DBS:-sqlite postgres}; do
    if [ "$db" = postgres ] && [[ " $SERVICES_MISSING " == *" postgres "* ]]; then
        echo "== tests on postgres: skipped, PostgreSQL is not available (see above) =="
        continue
    fi
    echo "== tests on $db =="
    EZTM_TEST_DB=$db "$py" -m pytest "$@" || status=$?
done
if [ -n "$SERVICES_MISSING" ]; then
    echo "Not available, so skipped:$SERVICES_MISSING (reasons above and in pytest's summary)"
fi
exit $status
