#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, from Debian's `postgresql` package (installed
# when missing): `pg-cluster.sh start DIR` makes one in DIR (initdb), starts it on a free
# 127.0.0.1 port and prints its URL; `pg-cluster.sh stop DIR` stops it (by its pid file) and
# removes DIR; `pg-cluster.sh restart DIR` crashes and restarts it (`-m immediate`, as a
# power loss would). As root, the cluster runs as the `postgres` user (initdb refuses root).
set -euo pipefail

command=${1:?usage: pg-cluster.sh start|stop|restart DIR}
dir=${2:?usage: pg-cluster.sh start|stop|restart DIR}

# The newest server's bin directory (a client-only install has no initdb there).
bindir() {
    local initdb
    initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)
    [ -n "$initdb" ] && dirname "$initdb"
    return 0
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

case "$command" in
start)
    if [ -z "$(bindir)" ]; then
        echo "PostgreSQL not found: installing Debian's postgresql package" >&2
        export DEBIAN_FRONTEND=noninteractive
        (apt-get install -y -q postgresql >&2 || { apt-get update -q >&2 && apt-get install -y -q postgresql >&2; })
    fi
    bin=$(bindir)
    if [ -z "$bin" ]; then
        echo "error: no PostgreSQL server (initdb) under /usr/lib/postgresql/*/bin; install Debian's postgresql" >&2
        exit 1
    fi
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300" start >/dev/null
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
restart)
    as_owner "$(bindir)/pg_ctl" -D "$dir/data" -l "$dir/log" -m immediate -w -t 60 restart >/dev/null
    ;;
*)
    echo "usage: pg-cluster.sh start|stop|restart DIR" >&2
    exit 2
    ;;
esac
