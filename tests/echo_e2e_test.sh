#!/usr/bin/env bash
# End to end: the echo_server binary on each backend under the echo_client binary (200
# connections, then 1-byte and 256 KiB messages), its gRPC Say answered by actors to a plain
# gRPC client in C++ and in Python (and DEADLINE_EXCEEDED past the deadline), graceful stop on
# SIGTERM; its gRPC port refused beyond loopback without TLS, and served with mutual TLS to the
# C++ and Python clients (plaintext and certificate-less clients refused); and a bad flag value
# rejected with a one-line message.
set -euo pipefail
server=$1
client=$2
grpc_client=$3
say_py=$4
echo_proto=$5
dev_certs=$6

fail() { echo "FAIL: $*" >&2; exit 1; }

start_server() {  # start_server BACKEND: sets pid and port
  "$server" --port=0 --grpc_port=0 --threads=2 --backend="$1" > "$TEST_TMPDIR/out" \
    2> "$TEST_TMPDIR/err" &
  pid=$!
  for _ in $(seq 100); do
    port=$(sed -n 's/^listening on port \([0-9]*\)$/\1/p' "$TEST_TMPDIR/out")
    grpc_port=$(sed -n 's/^grpc on port \([0-9]*\)$/\1/p' "$TEST_TMPDIR/out")
    [[ -n "$port" && -n "$grpc_port" ]] && return 0
    kill -0 "$pid" 2> /dev/null || return 1
    sleep 0.05
  done
  return 1
}

for backend in epoll uring auto; do
  if ! start_server "$backend"; then
    if [[ "$backend" == uring ]] && grep -q "io_uring is unavailable" "$TEST_TMPDIR/err"; then
      echo "io_uring unavailable here, skipping: $(cat "$TEST_TMPDIR/err")"
      continue
    fi
    fail "echo_server --backend=$backend did not start: $(cat "$TEST_TMPDIR/err")"
  fi
  "$client" --port="$port" --connections=200 --duration=0.5 --warmup=0.1 \
    || fail "$backend: 200 connections"
  "$client" --port="$port" --connections=4 --message_size=1 --duration=0.3 --warmup=0 \
    || fail "$backend: 1-byte messages"
  "$client" --port="$port" --connections=4 --message_size=262144 --duration=0.5 --warmup=0 \
    || fail "$backend: 256 KiB messages"
  "$grpc_client" --target="127.0.0.1:$grpc_port" --text="over grpc" --delay_ms=50 --calls=3 \
    || fail "$backend: gRPC Say"
  # Garbage on the gRPC port (not HTTP/2): that connection is dropped, the server carries on.
  for i in 1 2 3 4 5; do
    head -c 65536 /dev/urandom > "/dev/tcp/127.0.0.1/$grpc_port" 2> /dev/null || true
  done
  printf 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n%s' "$(head -c 4096 /dev/urandom | base64 -w0)" \
    > "/dev/tcp/127.0.0.1/$grpc_port" 2> /dev/null || true
  "$grpc_client" --target="127.0.0.1:$grpc_port" --text="after garbage" \
    || fail "$backend: gRPC Say after random bytes on the port"
  "$grpc_client" --target="127.0.0.1:$grpc_port" --chat=10000 \
    || fail "$backend: gRPC Chat stream of 10000 messages"
  "$grpc_client" --target="127.0.0.1:$grpc_port" --chat=5 --delay_ms=20 \
    || fail "$backend: gRPC Chat with delays"
  "$say_py" --target="127.0.0.1:$grpc_port" --text="from python" --delay_ms=20 \
    --proto="$echo_proto" || fail "$backend: Python gRPC client"
  if "$grpc_client" --target="127.0.0.1:$grpc_port" --delay_ms=2000 --deadline_ms=200 \
    2> "$TEST_TMPDIR/grpc_err"; then
    fail "$backend: a 2 s Say within a 200 ms deadline succeeded"
  fi
  grep -q "code 4" "$TEST_TMPDIR/grpc_err" || fail "$backend: no DEADLINE_EXCEEDED: $(cat "$TEST_TMPDIR/grpc_err")"
  # Graceful stop under load: SIGTERM while 64 connections echo; exit 0, within 10 s.
  "$client" --port="$port" --connections=64 --message_size=64 --duration=3 --warmup=0 \
    > /dev/null 2>&1 &
  load=$!
  sleep 0.5
  start=$(date +%s%N)
  kill -TERM "$pid"
  wait "$pid" || fail "$backend: echo_server exited with $? on SIGTERM under load"
  stop_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  (( stop_ms < 10000 )) || fail "$backend: stopping under load took ${stop_ms} ms"
  wait "$load" || true  # the client sees its connections close
  echo "$backend: stopped under load in ${stop_ms} ms"
  grep -q "backend" "$TEST_TMPDIR/err" || fail "$backend: no backend line"
  echo "ok: $backend ($(grep backend "$TEST_TMPDIR/err" | head -1))"
done

# Secure by default: the gRPC port beyond loopback without TLS is refused with one clear line.
if "$server" --host=0.0.0.0 --port=0 --grpc_port=0 > /dev/null 2> "$TEST_TMPDIR/open"; then
  fail "echo_server served gRPC on 0.0.0.0 without TLS"
fi
grep -q "refusing to listen on 0.0.0.0" "$TEST_TMPDIR/open" || fail "no clear refusal: $(cat "$TEST_TMPDIR/open")"
echo "ok: plaintext beyond loopback refused: $(head -c 120 "$TEST_TMPDIR/open")..."

# Mutual TLS: certificates from tools/dev_certs; the C++ and the Python (grpcio) clients call
# Say over TLS; plaintext and a client without a certificate are refused.
pki="$TEST_TMPDIR/pki"
"$dev_certs" "$pki" server client > /dev/null
tls_server=(--tls_cert="$pki/server.pem" --tls_key="$pki/server.key" --tls_ca="$pki/ca.pem")
tls_client=(--tls_cert="$pki/client.pem" --tls_key="$pki/client.key" --tls_ca="$pki/ca.pem")
"$server" --host=0.0.0.0 --port=0 --grpc_port=0 "${tls_server[@]}" > "$TEST_TMPDIR/out"   2> "$TEST_TMPDIR/err" &
pid=$!
for _ in $(seq 100); do
  grpc_port=$(sed -n 's/^grpc on port \([0-9]*\)$/\1/p' "$TEST_TMPDIR/out")
  [[ -n "$grpc_port" ]] && break
  kill -0 "$pid" 2> /dev/null || fail "echo_server with TLS did not start: $(cat "$TEST_TMPDIR/err")"
  sleep 0.05
done
[[ -n "$grpc_port" ]] || fail "echo_server with TLS printed no gRPC port"
"$grpc_client" --target="127.0.0.1:$grpc_port" --text="over tls" "${tls_client[@]}" \
  || fail "TLS: C++ client"
"$grpc_client" --target="127.0.0.1:$grpc_port" --chat=1000 "${tls_client[@]}" \
  || fail "TLS: C++ Chat stream"
"$say_py" --target="127.0.0.1:$grpc_port" --text="python over tls" --proto="$echo_proto" \
  "${tls_client[@]}" || fail "TLS: Python grpcio client"
if "$grpc_client" --target="127.0.0.1:$grpc_port" --deadline_ms=2000 2> /dev/null; then
  fail "TLS: a plaintext client got an answer"
fi
if "$grpc_client" --target="127.0.0.1:$grpc_port" --deadline_ms=2000 --tls_ca="$pki/ca.pem" \
  2> /dev/null; then
  fail "TLS: a client without a certificate got an answer"
fi
kill -TERM "$pid"
wait "$pid" || fail "echo_server with TLS exited with $? on SIGTERM"
echo "ok: mutual TLS from C++ and Python; plaintext and certificate-less clients refused"

# A bad flag value: non-zero exit, a one-line message, no stack trace.
if "$server" --backend=kqueue > /dev/null 2> "$TEST_TMPDIR/bad"; then
  fail "--backend=kqueue was accepted"
fi
[[ $(wc -l < "$TEST_TMPDIR/bad") -le 2 ]] || fail "bad flag output too long: $(cat "$TEST_TMPDIR/bad")"
grep -q "epoll, uring or auto" "$TEST_TMPDIR/bad" || fail "bad flag message: $(cat "$TEST_TMPDIR/bad")"
echo "ok: bad flag rejected: $(cat "$TEST_TMPDIR/bad")"
