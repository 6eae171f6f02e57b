"""Trace context across nodes, end to end, with the remote sample (examples/remote:node).

Node b serves the ponger; node a dials it and serves gRPC troupe.examples.Pinger/Ask, each call
asked of b's ponger. Both write spans to one file (--trace_file). A real gRPC client (grpcio)
calls a with a W3C traceparent; the test checks that the span file holds the call's path in
order - a's gateway span (parent: the caller's span), then a's actor span under it, then b's
ponger span under that, all in the caller's trace - that b's log line written while handling
the call carries the trace id, and that calls with a malformed or no traceparent are served and
leave no spans.
"""
import json, os, re, signal, subprocess, sys, tempfile, time

import grpc

sys.path.insert(0, os.path.dirname(__file__))
from e2e import fail, procs  # noqa: E402

node = sys.argv[1]
tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
spans_path = os.path.join(tmp, "spans.jsonl")
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def start(args, name):
    err = open(os.path.join(tmp, name + ".stderr"), "w")
    p = subprocess.Popen([node, "--name=" + name, "--trace_file=" + spans_path] + args,
                         stdout=subprocess.PIPE, stderr=err, text=True)
    procs.append(p)
    return p


def port_from(p, pattern):
    deadline = time.time() + 20
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        m = re.search(pattern, line)
        if m:
            return int(m.group(1))
    fail(f"no line matching {pattern!r}")


b = start(["--listen=127.0.0.1:0"], "b")
b_port = port_from(b, r"node listening on port (\d+)")
a = start([f"--peer=127.0.0.1:{b_port}", "--grpc_port=0"], "a")
grpc_port = port_from(a, r"grpc on port (\d+)")

channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
ask = channel.unary_unary("/troupe.examples.Pinger/Ask")
# Ping{seq: N} -> Pong{seq: N}: field 1, varint. The traced call first: b's ponger logs its
# first ask from a node, and that line must carry the trace id.
if ask(b"\x08\x07", metadata=[("traceparent", f"00-{TRACE}-{CALLER_SPAN}-01")],
       timeout=10) != b"\x08\x07":
    fail("the traced call was not answered")
for metadata in ([("traceparent", "garbage")],
                 [("traceparent", f"00-{TRACE.upper()}-{CALLER_SPAN}-01")], None):
    if ask(b"\x08\x05", metadata=metadata, timeout=10) != b"\x08\x05":
        fail(f"the call with {metadata} was not answered")


def spans():
    if not os.path.exists(spans_path):
        return []
    return [json.loads(line) for line in open(spans_path) if line.strip()]


# The sinks write every 100 ms; the three hops are there within a few seconds.
deadline = time.time() + 10
while time.time() < deadline and len(spans()) < 3:
    time.sleep(0.1)
for p in (a, b):
    p.send_signal(signal.SIGTERM)
for p in (a, b):
    if p.wait(timeout=30) != 0:
        fail(f"a node exited with {p.returncode}")

all_spans = spans()
if any(s["trace_id"] != TRACE for s in all_spans):
    fail(f"spans of another trace (the untraced calls must leave none): {all_spans}")
by_id = {s["span_id"]: s for s in all_spans}
server = [s for s in all_spans if s["kind"] == "server"]
if len(server) != 1 or server[0]["parent_span_id"] != CALLER_SPAN or \
        server[0]["service"] != "a" or server[0]["name"] != "/troupe.examples.Pinger/Ask" or \
        server[0]["attributes"].get("grpc_code") != "OK":
    fail(f"not one gateway span on a under the caller's span: {server}")
ponger = [s for s in all_spans if s["service"] == "b" and "Ponger" in s["attributes"].get(
    "actor_type", "")]
if len(ponger) != 1:
    fail(f"not one ponger span on b: {all_spans}")
# Walk from b's ponger span up to the caller: every hop a parent, in time order.
path = [ponger[0]]
while path[-1]["parent_span_id"] in by_id:
    path.append(by_id[path[-1]["parent_span_id"]])
path.reverse()
if path[0] is not server[0] or path[-1]["parent_span_id"] == CALLER_SPAN:
    fail(f"b's span does not lead back to a's gateway span: {path}")
if path[0]["parent_span_id"] != CALLER_SPAN:
    fail(f"the path does not start at the caller's span: {path}")
services = [s["service"] for s in path]
if services[0] != "a" or services[-1] != "b" or len(path) < 3:
    fail(f"the hops are not gateway (a) -> actor (a) -> ponger (b): {services}")
starts = [s["start_unix_seconds"] for s in path]
if starts != sorted(starts):
    fail(f"the hops did not start in order: {path}")

b_log = open(os.path.join(tmp, "b.stderr")).read()
traced_line = [l for l in b_log.splitlines() if "ponger: first ask from a node" in l]
if len(traced_line) != 1 or f"trace_id={TRACE}" not in traced_line[0]:
    fail(f"the log line written while handling the traced call has no trace id: {traced_line}")

print("hops:", " -> ".join(f"{s['service']}:{s['kind']}:{s['name']}" for s in path))
print("log:", traced_line[0])
print("PASS")
