#!/bin/sh
# pg_cluster.sh — a throwaway PostgreSQL cluster for the test suites.
#
#   tools/pg_cluster.sh start [DIR]   create and start one; prints its URL
#   tools/pg_cluster.sh stop DIR      stop it at once and remove DIR
#   tools/pg_cluster.sh restart DIR   pg_ctl restart -m fast (data kept)
#   tools/pg_cluster.sh down DIR      pg_ctl stop -m fast (data kept) ...
#   tools/pg_cluster.sh up DIR        ... and start it again
#   tools/pg_cluster.sh url DIR       print the URL of DIR's cluster
#
# The server comes from $(pg_config --bindir) (Debian: /usr/lib/postgresql/
# 15/bin, where initdb, pg_ctl and postgres live).  DIR (default: a fresh
# mktemp -d /tmp/frontdesk-pg-XXXXXX, short enough for a socket path) holds
# the data directory DIR/data, the server's log DIR/log and its Unix socket:
# the server listens on nothing else (listen_addresses=''), so the cluster
# Debian's package runs on port 5432 is never touched.  fsync is off: the
# data is thrown away.
#
# initdb refuses to run as root, so as root everything server-side runs as
# the postgres user (runuser), in a DIR that user owns; then a superuser
# role named after the invoking user (root) is created, so the suites
# connect as themselves with no password (trust, on the socket only).  Not
# as root, the cluster belongs to the invoking user.  pg_trgm is created
# in template1, so every database made from it (CREATE DATABASE's default)
# has it.
#
# The URL printed, postgresql:///postgres?host=DIR&port=5432, is libpq's:
# a database name, the socket directory as host.  Any other database of
# the cluster is the same URL with its name in place of "postgres".
#
# Failures print one line on standard error (with the end of the server's
# log when the server would not start) and exit 1; usage errors exit 2.
set -u

PORT=5432
me=pg_cluster.sh

die() {
    echo "$me: $*" >&2
    # A start that made its own DIR takes it away again when it fails.
    if [ -n "${made:-}" ]; then
        made=""
        stop
    fi
    exit 1
}

usage() {
    echo "usage: $me start [DIR] | stop DIR | restart DIR | down DIR | up DIR | url DIR" >&2
    exit 2
}

# The invoking environment must not steer the server or psql elsewhere.
unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGDATA PGSERVICE PGSERVICEFILE PGOPTIONS \
    PGPASSWORD PGPASSFILE PGSSLMODE PGREQUIRESSL PGCONNECT_TIMEOUT PGTZ PGCLIENTENCODING

bindir() {
    command -v pg_config >/dev/null 2>&1 ||
        die "pg_config not found (package libpq-dev; make deps installs it)"
    b=$(pg_config --bindir) || die "pg_config --bindir failed"
    for p in initdb pg_ctl postgres psql; do
        [ -x "$b/$p" ] || die "$b/$p not found (package postgresql; make deps installs it)"
    done
    echo "$b"
}

url_of() {
    echo "postgresql:///postgres?host=$1&port=$PORT"
}

# Run a server-side program as the owner of DIR (root runs it through
# runuser; anyone else is the owner already).  From DIR, so the program
# never tries to read a working directory it may not enter.
as_owner() {
    owner=$(stat -c %U "$DIR") || die "cannot stat $DIR"
    if [ "$(id -u)" -eq 0 ] && [ "$owner" != root ]; then
        (cd "$DIR" && runuser -u "$owner" -- "$@")
    else
        (cd "$DIR" && "$@")
    fi
}

# DIR must be one this script made: the marker guards rm -rf against a
# wrong argument.
check_dir() {
    [ -n "${DIR:-}" ] || usage
    [ -f "$DIR/frontdesk-pg-cluster" ] || die "$DIR is not a cluster made by $me"
}

pg_ctl_start() {
    as_owner "$BIN/pg_ctl" start -w -t 120 -D "$DIR/data" -l "$DIR/log" \
        -o "-c listen_addresses='' -k $DIR -p $PORT -c fsync=off" >/dev/null 2>&1 && return 0
    reason=$(tail -n 3 "$DIR/log" 2>/dev/null | tr '\n' ' ')
    die "the server in $DIR did not start: ${reason:-no log}"
}

start() {
    BIN=$(bindir) || exit 1
    if [ -n "${DIR:-}" ]; then
        mkdir -p "$DIR" || die "cannot create $DIR"
        DIR=$(cd "$DIR" && pwd) || die "cannot enter $DIR"
        [ -z "$(ls -A "$DIR")" ] || die "$DIR is not empty"
    else
        DIR=$(mktemp -d /tmp/frontdesk-pg-XXXXXX) || die "mktemp failed"
        made=1
    fi
    # pg_ctl -o splits its options at blanks, and a socket's path is at
    # most 107 bytes (with /.s.PGSQL.5432.lock after it).
    case $DIR in *[[:space:]\'\"]*) die "$DIR: a blank or quote in the path" ;; esac
    [ ${#DIR} -le 80 ] || die "$DIR: too long for a socket directory (80 bytes at most)"
    chmod 0700 "$DIR"
    : >"$DIR/frontdesk-pg-cluster"
    if [ "$(id -u)" -eq 0 ]; then
        id -u postgres >/dev/null 2>&1 ||
            die "as root the cluster runs as the postgres user, and there is none (package postgresql makes it)"
        chown -R postgres: "$DIR" || die "cannot give $DIR to postgres"
    fi
    # C.UTF-8: UTF-8 text, code-point order, and letters beyond ASCII
    # count as letters for pg_trgm; the C locale (with UTF-8) when the
    # system has no C.UTF-8.
    if ! as_owner "$BIN/initdb" -D "$DIR/data" --locale=C.UTF-8 --encoding=UTF8 -A trust \
        --no-instructions >"$DIR/initdb.log" 2>&1; then
        as_owner rm -rf "$DIR/data"
        as_owner "$BIN/initdb" -D "$DIR/data" --locale=C --encoding=UTF8 -A trust \
            --no-instructions >"$DIR/initdb.log" 2>&1 ||
            die "initdb failed in $DIR: $(tail -n 2 "$DIR/initdb.log" | tr '\n' ' ')"
    fi
    pg_ctl_start
    owner=$(stat -c %U "$DIR")
    user=$(id -un)
    sql="CREATE EXTENSION IF NOT EXISTS pg_trgm;"
    if [ "$user" != "$owner" ]; then
        as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p $PORT -d postgres \
            -c "CREATE ROLE \"$user\" SUPERUSER LOGIN" >/dev/null 2>"$DIR/psql.log" ||
            die "cannot create the role $user: $(head -n 1 "$DIR/psql.log")"
    fi
    as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p $PORT -d template1 \
        -c "$sql" >/dev/null 2>"$DIR/psql.log" ||
        die "cannot create pg_trgm in template1 (package postgresql-contrib): $(head -n 1 "$DIR/psql.log")"
    url_of "$DIR"
}

stop() {
    check_dir
    BIN=$(pg_config --bindir 2>/dev/null)
    if [ -f "$DIR/data/postmaster.pid" ]; then
        as_owner "$BIN/pg_ctl" stop -w -t 60 -m immediate -D "$DIR/data" >/dev/null 2>&1
        # Whatever pg_ctl could not stop is killed.
        pid=$(head -n 1 "$DIR/data/postmaster.pid" 2>/dev/null)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null
        fi
    fi
    rm -rf "$DIR"
}

cmd=${1:-}
DIR=${2:-}
[ $# -le 2 ] || usage
case $cmd in
start) start ;;
stop) stop ;;
restart)
    check_dir
    BIN=$(bindir) || exit 1
    as_owner "$BIN/pg_ctl" restart -w -t 120 -m fast -D "$DIR/data" -l "$DIR/log" \
        -o "-c listen_addresses='' -k $DIR -p $PORT -c fsync=off" >/dev/null 2>&1 ||
        die "the server in $DIR did not restart: $(tail -n 3 "$DIR/log" 2>/dev/null | tr '\n' ' ')"
    ;;
down)
    check_dir
    BIN=$(bindir) || exit 1
    as_owner "$BIN/pg_ctl" stop -w -t 120 -m fast -D "$DIR/data" >/dev/null 2>&1 ||
        die "the server in $DIR did not stop"
    ;;
up)
    check_dir
    BIN=$(bindir) || exit 1
    pg_ctl_start
    ;;
url)
    check_dir
    url_of "$DIR"
    ;;
*) usage ;;
esac
