#!/bin/sh
# Install the Debian packages frontdesk needs, only those that are missing.
# Quiet when everything is present; `apt-get update` runs at most once.
# `tools/deps.sh fuzz` (make fuzz) adds clang and its libFuzzer runtime.
set -eu

missing=""
need() { missing="$missing $1"; }
# Installed without its recommends (they pull in a desktop's worth).
bare=""
need_bare() { bare="$bare $1"; }

if command -v pkg-config >/dev/null 2>&1; then
    for pair in ncursesw:libncurses-dev sqlite3:libsqlite3-dev \
                openblas:libopenblas-dev libcurl:libcurl4-openssl-dev \
                cmocka:libcmocka-dev jansson:libjansson-dev \
                libcrypto:libssl-dev libmicrohttpd:libmicrohttpd-dev \
                libpq:libpq-dev; do
        pkg-config --exists "${pair%%:*}" || need "${pair#*:}"
    done
else
    need "pkg-config libncurses-dev libsqlite3-dev libopenblas-dev"
    need "libcurl4-openssl-dev libcmocka-dev libjansson-dev libssl-dev libmicrohttpd-dev libpq-dev"
fi
# The test suites run a throwaway PostgreSQL cluster (tools/pg_cluster.sh)
# from $(pg_config --bindir): Debian's pg_config (libpq-dev) names
# /usr/lib/postgresql/15/bin there even before the server is installed,
# so the programs themselves are looked for; pg_trgm comes with the server
# (postgresql-contrib is part of postgresql-15 in Debian 12).
pgbin=$(pg_config --bindir 2>/dev/null) || pgbin=""
pgshare=$(pg_config --sharedir 2>/dev/null) || pgshare=""
for p in initdb pg_ctl postgres psql; do
    [ -n "$pgbin" ] && [ -x "$pgbin/$p" ] && continue
    need postgresql
    break
done
if [ -z "$pgshare" ] || [ ! -f "$pgshare/extension/pg_trgm.control" ]; then
    need postgresql-contrib
fi
command -v pg_config >/dev/null 2>&1 || need libpq-dev
# Libraries without a pkg-config file: look for the header.
for pair in csv.h:libcsv-dev; do
    echo "#include <${pair%%:*}>" | ${CC:-cc} -E -x c - >/dev/null 2>&1 || need "${pair#*:}"
done
# tmux drives the real TUI (test_tui_e2e).
command -v tmux >/dev/null 2>&1 || need tmux
# The UI suites measure text in the C.UTF-8 locale.  Debian 12 ships it
# compiled, as /usr/lib/locale/C.utf8, in libc-bin (essential, so always
# installed): when it is missing all the same (an image that stripped
# /usr/lib/locale), reinstalling libc-bin brings it back.
reinstall=""
[ "$(LC_ALL=C.UTF-8 locale charmap 2>/dev/null)" = "UTF-8" ] || reinstall="libc-bin"
# groff lints the man page (test_install).
command -v groff >/dev/null 2>&1 || need groff-base
# python3 runs tools/mutate (make mutate).
command -v python3 >/dev/null 2>&1 || need python3
# Prometheus and promtool check the metrics serve and stats export
# (test_prometheus).
{ command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; } || need_bare prometheus
# make fuzz only: clang 14 and its sanitizer/libFuzzer runtimes.
if [ "${1:-}" = fuzz ]; then
    command -v clang >/dev/null 2>&1 || need clang
    dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q 'ok installed' ||
        need libclang-rt-14-dev
fi

[ -z "$missing$bare$reinstall" ] && exit 0

echo "deps: installing$missing$bare${reinstall:+ (reinstalling $reinstall for the C.UTF-8 locale)}"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps: missing packages:$missing$bare; run 'make deps' as root" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
[ -z "$missing" ] || $SUDO apt-get install -y -q $missing
# shellcheck disable=SC2086
[ -z "$bare" ] || $SUDO apt-get install -y -q --no-install-recommends $bare
[ -z "$reinstall" ] || $SUDO apt-get install -y -q --reinstall $reinstall
