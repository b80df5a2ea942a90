#!/usr/bin/env bash
# Hooklet beside the River peer on one private PostgreSQL cluster, in one run:
# builds this loadtest and bench/river's riverbench and receiver, starts a
# cluster (durable commits, the settings of bench/river/scripts/run.sh) on a
# free loopback port, then runs each mode REPS times, River and Hooklet back
# to back in every rep, so the ratios of one rep share the machine's state.
# It stops everything it started (by PID, pg_ctl stop) and removes its temp
# dir on exit.
#
#   examples/postgres/loadtest/compare.sh                 # REPS=5 MODES=emit,drain,latency,stream
#   REPS=1 MODES=drain examples/postgres/loadtest/compare.sh
#
# River runs with its best settings of bench/river/README.md: emit against
# 64 goroutines each inserting one job per transaction, drain
# MaxWorkers 200 with FetchCooldown 1 ms and 5 ms (the better of the two is
# the one compared), streaming with 64 single inserters (cooldown 5 ms),
# latency with cooldown 1 ms (its best p50). Hooklet runs one Dispatcher.
# With BEFORE=<git revision>, the loadtest of that revision runs too, after
# the current one, for a before/after in the same run.
# Output: RESULT lines in $OUT (default /tmp/hooklet-compare.txt) and, per
# rep, the ratios on stderr.
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$(pwd)

REPS=${REPS:-5}
N=${N:-20000}
DUR=${DUR:-5s}
WARMUP=${WARMUP:-2s}
RATE=${RATE:-1000}
MODES=${MODES:-emit,drain,latency,stream}
OUT=${OUT:-/tmp/hooklet-compare.txt}

PGBIN=${PGBIN:-}
if [ -z "$PGBIN" ]; then
  for d in /usr/lib/postgresql/15/bin /usr/local/bin; do
    if [ -x "$d/initdb" ]; then PGBIN=$(dirname "$(readlink -f "$d/initdb")"); break; fi
  done
fi
[ -x "$PGBIN/initdb" ] || { echo "initdb not found (set PGBIN)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/hooklet-compare.XXXXXX)
echo "building..." >&2
(cd bench/river && go build -o "$TMP/riverbench" ./cmd/riverbench && go build -o "$TMP/receiver" ./cmd/receiver)
go build -o "$TMP/loadtest" ./examples/postgres/loadtest
if [ -n "${BEFORE:-}" ]; then
  mkdir -p "$TMP/before"
  git archive "$BEFORE" | tar -x -C "$TMP/before"
  (cd "$TMP/before" && go build -o "$TMP/loadtest-before" ./examples/postgres/loadtest)
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

PGDATA="$TMP/data"
SOCK="$TMP/sock"
mkdir -p "$SOCK"
PGPORT=$(free_port)
RECV_ADDR=127.0.0.1:$(free_port)

if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "need a non-root 'postgres' user to run the server" >&2; exit 1; }
  chown -R postgres: "$TMP"
  asuser() { runuser -u postgres -- "$@"; }
else
  asuser() { "$@"; }
fi

RPID=""
PGSTARTED=""
cleanup() {
  set +e
  if [ -n "$RPID" ]; then kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null; fi
  if [ -n "$PGSTARTED" ]; then
    local ppid
    ppid=$(head -1 "$PGDATA/postmaster.pid" 2>/dev/null)
    asuser "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w -t 30 stop >/dev/null 2>&1
    if [ -n "$ppid" ] && kill -0 "$ppid" 2>/dev/null; then kill "$ppid" 2>/dev/null; sleep 2; fi
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

asuser "$PGBIN/initdb" -A trust -U postgres -E UTF8 --locale=C -D "$PGDATA" >"$TMP/initdb.log" 2>&1 || { cat "$TMP/initdb.log" >&2; exit 1; }
PGSTARTED=1
asuser "$PGBIN/pg_ctl" -D "$PGDATA" -l "$TMP/postgres.log" -w -t 60 \
  -o "-p $PGPORT -k $SOCK -c listen_addresses=127.0.0.1 -c shared_buffers=256MB -c synchronous_commit=on -c fsync=on -c max_connections=300" \
  start >/dev/null
PGPID=$(head -1 "$PGDATA/postmaster.pid")
DSN="postgres://postgres@127.0.0.1:$PGPORT/postgres?sslmode=disable"

"$TMP/receiver" -addr "$RECV_ADDR" 2>/dev/null &
RPID=$!
sleep 0.3

RB=("$TMP/riverbench" -dsn "$DSN" -target "http://$RECV_ADDR" -pgpid "$PGPID" -n "$N" -poll 100ms -pool 64 -payload string)
LT=("$TMP/loadtest" -dsn "$DSN" -pgpid "$PGPID" -n "$N" -dispatchers 1 -d "$DUR" -warmup "$WARMUP" -rate "$RATE")
"${RB[@]}" -mode migrate 2>>"$TMP/run.log"

: >"$OUT"
echo "# $(date -u +%FT%TZ) REPS=$REPS N=$N DUR=$DUR WARMUP=$WARMUP RATE=$RATE $(git -C "$ROOT" rev-parse --short HEAD)" >>"$OUT"
field() { tr '\t' '\n' | sed -n "s|^$1=||p" | head -1; }
river() { "${RB[@]}" "$@" 2>>"$TMP/run.log" | grep '^RESULT' | tee -a "$OUT"; }
hooklet() { "${LT[@]}" "$@" 2>>"$TMP/run.log" | grep '^RESULT' | tee -a "$OUT"; }
before() {
  [ -n "${BEFORE:-}" ] || return 0
  "$TMP/loadtest-before" -dsn "$DSN" -n "$N" -dispatchers 1 -d "$DUR" -warmup "$WARMUP" -rate "$RATE" "$@" 2>>"$TMP/run.log" |
    grep '^RESULT' | sed 's/^RESULT/RESULT-BEFORE/' | tee -a "$OUT"
}

for rep in $(seq "$REPS"); do
  for mode in ${MODES//,/ }; do
    case $mode in
    emit)
      r=$(river -mode insert-single -inserters 64 | field events_per_s)
      h=$(hooklet -modes emit | field 'events/s')
      echo "rep $rep emit: river $r/s, hooklet $h/s, ratio $(python3 -c "print(round($h / $r, 2))")" >&2
      ;;
    drain)
      r1=$(river -mode drain -workers 200 -cooldown 1ms | field deliveries_per_s)
      r5=$(river -mode drain -workers 200 -cooldown 5ms | field deliveries_per_s)
      h=$(hooklet -modes drain | field 'deliveries/s')
      b=$(before -modes drain | field 'deliveries/s')
      best=$(python3 -c "print(max($r1, $r5))")
      echo "rep $rep drain: river best $best/s (1ms $r1, 5ms $r5), hooklet $h/s, ratio $(python3 -c "print(round($h / $best, 2))")${b:+; before $b/s}" >&2
      ;;
    stream)
      r=$(river -mode stream -workers 200 -cooldown 5ms -inserters 64 -inflight 2000 -d "$DUR" -warmup "$WARMUP" | field deliveries_per_s)
      h=$(hooklet -modes stream | field 'deliveries/s')
      echo "rep $rep stream: river $r/s, hooklet $h/s, ratio $(python3 -c "print(round($h / $r, 2))")" >&2
      ;;
    latency)
      rl=$(river -mode latency -workers 200 -cooldown 1ms -rate "$RATE" -d "$DUR" -warmup "$WARMUP")
      hl=$(hooklet -modes latency)
      bl=$(before -modes latency)
      echo "rep $rep latency: river p50 $(echo "$rl" | field e2e_p50_ms) ms p99 $(echo "$rl" | field e2e_p99_ms) ms; hooklet p50 $(echo "$hl" | field p50_ms) ms p99 $(echo "$hl" | field p99_ms) ms${bl:+; before p50 $(echo "$bl" | field p50) p99 $(echo "$bl" | field p99)}" >&2
      ;;
    esac
  done
done
