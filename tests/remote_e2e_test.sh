#!/usr/bin/env bash
# End to end, two processes: a client node tells 100,000 Pings to a serving node's counter
# (all arrive, in order, once) and plays ping-pong with its ponger (asks across processes);
# then, while the client keeps sending, the serving node is stopped and restarted on the same
# port: the Pings sent meanwhile are dead letters on the client, none is duplicated or
# reordered, every Ping is accounted for, and the link comes back by itself. Last, the README's
# secure two-node walkthrough over mutual TLS (certificates from tools/dev_certs): the admitted
# node's pings and Pings arrive and the server names it; a node the export does not allow, a
# Hello claiming another node's name, and plaintext are each refused with their reason.
set -euo pipefail
node=$1
dev_certs=$2

fail() { echo "FAIL: $*" >&2; exit 1; }

# finish PID SECS WHAT [LOG...]: waits for PID and returns its exit status; if it is still
# running after SECS, prints the end of each LOG (what it wrote) and what each of its threads is
# doing (every stack with gdb when installed, else each thread's name and wait channel), kills
# it and fails, so a hang fails at once with its evidence instead of at the test's timeout.
finish() {
  local pid=$1 secs=$2 what=$3 tid log status=0
  shift 3
  for _ in $(seq $((secs * 10))); do
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2> /dev/null; then
    echo "$what: still running after ${secs}s" >&2
    for log in "$@"; do
      echo "-- the end of $log:" >&2
      tail -20 "$log" >&2 || true
    done
    echo "-- its threads:" >&2
    if command -v gdb > /dev/null; then
      gdb -p "$pid" -batch -ex "thread apply all bt" 2>&1 | grep -v '^\[New LWP' >&2 || true
    else
      for tid in /proc/"$pid"/task/*; do
        echo "  $(cat "$tid/comm" 2> /dev/null) $(cat "$tid/wchan" 2> /dev/null)" >&2
      done
    fi
    kill -KILL "$pid" 2> /dev/null || true
    fail "$what hung"
  fi
  wait "$pid" || status=$?
  return "$status"
}

start_server() {  # start_server PORT OUT [FLAGS...]: sets server_pid and port
  local at=$1 out=$2
  shift 2
  "$node" --listen="127.0.0.1:$at" --threads=1 "$@" > "$out" 2> "$out.err" &
  server_pid=$!
  for _ in $(seq 200); do
    port=$(sed -n 's/^node listening on port \([0-9]*\)$/\1/p' "$out")
    [[ -n "$port" ]] && return 0
    kill -0 "$server_pid" 2> /dev/null || return 1
    sleep 0.05
  done
  return 1
}

stop_server() {  # stop_server OUT: sets received (what its counter got, in order, once)
  kill -TERM "$server_pid"
  local status=0
  finish "$server_pid" 30 "the serving node, stopping ($1)" "$1" "$1.err" || status=$?
  (( status == 0 )) || fail "the serving node exited with $status on SIGTERM"
  received=$(sed -n 's/^counter: received \([0-9]*\), out of order 0, duplicates 0.*/\1/p' "$1")
}

json() { sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p" "$2"; }

start_server 0 "$TEST_TMPDIR/s1" || fail "the serving node did not start: $(cat "$TEST_TMPDIR/s1.err")"
"$node" --peer="127.0.0.1:$port" --threads=1 --pings=3 --messages=100000 \
  > "$TEST_TMPDIR/flood" &
finish $! 90 "the flood client" "$TEST_TMPDIR/flood" \
  || fail "100,000 Pings: $(cat "$TEST_TMPDIR/flood")"
grep -q '"received": 100000, "out_of_order": 0, "duplicates": 0' "$TEST_TMPDIR/flood" \
  || fail "not all in order: $(cat "$TEST_TMPDIR/flood")"
echo "ok: $(tail -1 "$TEST_TMPDIR/flood")"
stop_server "$TEST_TMPDIR/s1"
[[ "$received" == 100000 ]] || fail "the counter saw $(cat "$TEST_TMPDIR/s1")"

# The restart: the client sends for 5 s at 2000/s; the peer is down from ~1 s to ~2 s, and the
# link's back-off (at most 2 s) finds it again well before the end.
start_server 0 "$TEST_TMPDIR/s2" || fail "the serving node did not start"
"$node" --peer="127.0.0.1:$port" --threads=1 --seconds=5 --rate=2000 > "$TEST_TMPDIR/paced" &
client_pid=$!
sleep 1
stop_server "$TEST_TMPDIR/s2"
before=$received
[[ -n "$before" ]] || fail "the first incarnation reported: $(cat "$TEST_TMPDIR/s2")"
sleep 1
start_server "$port" "$TEST_TMPDIR/s3" || fail "the serving node did not restart on $port"
finish "$client_pid" 60 "the paced client" "$TEST_TMPDIR/paced" \
  || fail "the client failed: $(cat "$TEST_TMPDIR/paced")"
out="$TEST_TMPDIR/paced"
sent=$(json sent "$out"); dead=$(json dead_letters "$out"); after=$(json peer_received "$out")
[[ $(json peer_duplicates "$out") == 0 ]] || fail "duplicates: $(cat "$out")"
[[ $(json peer_out_of_order "$out") == 0 ]] || fail "out of order: $(cat "$out")"
[[ $(json connects "$out") -ge 2 ]] || fail "the link did not come back: $(cat "$out")"
(( dead > 0 )) || fail "no dead letters while the peer was down: $(cat "$out")"
(( after > 0 )) || fail "nothing arrived after the restart: $(cat "$out")"
# At most once: delivered before + after <= sent; nothing vanishes: + dead letters >= sent.
(( before + after <= sent )) || fail "more delivered ($before + $after) than sent ($sent)"
(( before + after + dead >= sent )) || fail "lost silently: $before + $after + $dead < $sent"
echo "ok: restart: sent $sent, delivered $before before + $after after, $dead dead letters"
stop_server "$TEST_TMPDIR/s3"

# The secure walkthrough (README, Security).
certs="$TEST_TMPDIR/certs"
"$dev_certs" "$certs" node-a node-b node-c > /dev/null 2>&1 || fail "tools/dev_certs failed"
tls() { echo "--tls_cert=$certs/$1.pem --tls_key=$certs/$1.key --tls_ca=$certs/ca.pem"; }
start_server 0 "$TEST_TMPDIR/secure" --name=node-b $(tls node-b) \
  --allow=spiffe://troupe.local/node-a || fail "the TLS node did not start: $(cat "$TEST_TMPDIR/secure.err")"
"$node" --name=node-a --peer="127.0.0.1:$port" $(tls node-a) --tls_identity=node-b --threads=1 \
  --pings=3 --messages=10000 > "$TEST_TMPDIR/a" 2>&1 &
finish $! 60 "node-a over TLS" "$TEST_TMPDIR/a" || fail "node-a over TLS: $(cat "$TEST_TMPDIR/a")"
grep -q '"received": 10000, "out_of_order": 0, "duplicates": 0' "$TEST_TMPDIR/a" \
  || fail "node-a's Pings over TLS: $(cat "$TEST_TMPDIR/a")"
refused() {  # refused NAME CERT EXPECTED: a ping as NAME with CERT's files fails, saying EXPECTED
  local name=$1 cert=$2 expected=$3 flags=""
  [[ -n "$cert" ]] && flags=$(tls "$cert")
  "$node" --name="$name" --peer="127.0.0.1:$port" $flags --threads=1 --pings=1 \
    > "$TEST_TMPDIR/refused" 2>&1 &
  if finish $! 60 "$name with ${cert:-no} certificate" "$TEST_TMPDIR/refused"; then
    fail "$name with ${cert:-no} certificate got in: $(cat "$TEST_TMPDIR/refused")"
  fi
  grep -q "$expected" "$TEST_TMPDIR/refused" \
    || fail "$name with ${cert:-no} certificate: want '$expected': $(cat "$TEST_TMPDIR/refused")"
}
refused node-c node-c "PERMISSION_DENIED: node 'node-c' may not reach 'ponger'"
refused node-a node-c "PERMISSION_DENIED: .*the Hello claims node 'node-a' but the certificate is spiffe://troupe.local/node-c"
refused node-a "" "ping 1 failed: UNAVAILABLE"
stop_server "$TEST_TMPDIR/secure"
grep -q "^ponger: asked by node 'node-a' (spiffe://troupe.local/node-a (ipv4:127.0.0.1:" \
  "$TEST_TMPDIR/secure" || fail "the TLS node did not name its caller: $(cat "$TEST_TMPDIR/secure")"
[[ "$received" == 10000 ]] || fail "the TLS node's counter saw $(cat "$TEST_TMPDIR/secure")"
echo "ok: mutual TLS: node-a admitted and named; node-c, an impostor and plaintext refused"
