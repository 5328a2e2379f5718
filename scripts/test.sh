#!/usr/bin/env bash
# Run the whole test suite against SQLite, then PostgreSQL (Redis and PostgreSQL must be up).
# Extra arguments go to pytest, e.g. scripts/test.sh -k schedules
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(scripts/venv.sh | tail -n 1)
"$py" -c "import sys, django; print('Python', sys.version.split()[0], '/ Django', django.get_version())"
status=0
for db in ${EZTM_TEST_DBS:-sqlite postgres}; do
    echo "== tests on $db =="
    EZTM_TEST_DB=$db "$py" -m pytest "$@" || status=$?
done
exit $status
