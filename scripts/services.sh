#!/usr/bin/env bash
# Bring up what the test suite needs, as far as this machine allows; meant to be sourced.
#
#   Redis on 127.0.0.1:6379          started when down (redis-server installed)
#   PostgreSQL on 127.0.0.1:5432     started when installed and down
#   Debian's chromium, chromium-driver, redis-server, redis-sentinel (and python3-venv when the
#   Python lacks venv)               installed with apt when missing and running as root
#
# Whatever cannot be had is named on stderr with the reason; the tests that need it then skip
# with a reason of their own, unless EZTM_REQUIRE_ALL=1 (CI), which makes a missing piece fail.
# After `ensure_services`, SERVICES_MISSING lists what is missing (redis, postgres, chromium).

SERVICES_MISSING=""

services_note() { echo "test services: $*" >&2; }

port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

wait_for_port() {
    for _ in $(seq 1 40); do
        port_open "$1" && return 0
        sleep 0.5
    done
    return 1
}

# Debian packages the suite uses that are not installed: "<package>:<program>" pairs.
missing_packages() {
    local pair
    for pair in redis-server:redis-server redis-sentinel:redis-sentinel \
        chromium:"${EZTM_CHROMIUM:-/usr/bin/chromium}" chromium-driver:chromedriver; do
        command -v "${pair#*:}" >/dev/null 2>&1 || echo "${pair%%:*}"
    done
    # Debian's own Python makes virtualenvs only with python3-venv installed.
    if ! "${PYTHON:-python3}" -c "import ensurepip, venv" >/dev/null 2>&1; then
        echo python3-venv
    fi
}

install_missing_packages() {
    local packages
    packages=$(missing_packages | xargs)
    [ -z "$packages" ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        services_note "not installed: $packages (not root on a Debian system, so not installed" \
            "here; as root: apt-get install $packages)"
        return 0
    fi
    services_note "installing $packages with apt-get"
    apt-get update -q >&2 || services_note "apt-get update failed"
    # shellcheck disable=SC2086  # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $packages >&2 ||
        services_note "apt-get install $packages failed"
}

ensure_redis() {
    port_open 6379 && return 0
    if ! command -v redis-server >/dev/null 2>&1; then
        services_note "Redis: skipped, nothing answers on 127.0.0.1:6379 and redis-server is" \
            "not installed; the tests that need a real Redis skip"
        SERVICES_MISSING+=" redis"
        return 0
    fi
    services_note "starting Redis on 127.0.0.1:6379"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >&2
    if ! wait_for_port 6379; then
        services_note "Redis: skipped, redis-server did not open port 6379"
        SERVICES_MISSING+=" redis"
    fi
}

ensure_postgres() {
    port_open 5432 && return 0
    local version started=""
    if [ ! -d /etc/postgresql ] || ! command -v pg_ctlcluster >/dev/null 2>&1; then
        services_note "PostgreSQL: skipped, nothing answers on 127.0.0.1:5432 and no Debian" \
            "PostgreSQL cluster is installed (apt-get install postgresql)"
        SERVICES_MISSING+=" postgres"
        return 0
    fi
    for version in $(ls /etc/postgresql); do
        [ -d "/etc/postgresql/$version/main" ] || continue
        services_note "starting PostgreSQL $version (cluster main)"
        pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 && started=1
    done
    if [ -z "$started" ] || ! wait_for_port 5432; then
        services_note "PostgreSQL: skipped, the installed cluster did not open port 5432"
        SERVICES_MISSING+=" postgres"
    fi
}

ensure_chromium() {
    local chromium=${EZTM_CHROMIUM:-/usr/bin/chromium}
    if [ ! -x "$chromium" ]; then
        services_note "Chromium: skipped, $chromium is missing; the browser tests skip"
        SERVICES_MISSING+=" chromium"
    fi
}

ensure_services() {
    SERVICES_MISSING=""
    install_missing_packages
    ensure_redis
    ensure_postgres
    ensure_chromium
    if [ -n "$SERVICES_MISSING" ] && [ "${EZTM_REQUIRE_ALL:-0}" = 1 ]; then
        services_note "missing:$SERVICES_MISSING, and EZTM_REQUIRE_ALL=1 asks for everything"
        return 1
    fi
    return 0
}
