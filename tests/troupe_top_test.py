#!/usr/bin/python3
"""End to end: tools/troupe_top against a live echo_server.

  1. known work (5 connections, 20 round trips each; then 3 connections held open, one of them
     echoing meanwhile) and `troupe_top HOST:PORT --once`: one row per `worker` label of
     /metrics, each with a busy percentage and rates, turns/s above 0; the live actors /metrics
     counts; the echo listener's open and accepted connections; the per-type actor table, or the
     hint that actor types opt in; no escape codes;
  2. the refresh mode with stdout not a terminal (a bare PORT): plain frames, rates from the
     second one, and Ctrl-C (SIGINT) ends it quietly with 0;
  3. targets that cannot be scraped - nothing listening, HTTP 404, not HTTP (the echo port), not
     Prometheus text - exit 1 with one line on stderr.
"""
import http.server, os, re, signal, socket, subprocess, sys, tempfile, threading, time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from e2e import fail, free_port, procs, start_echo_with_metrics

echo_bin, troupe_top = sys.argv[1], sys.argv[2]
tmp = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp()


def top(*args, timeout=60):
    """Runs troupe_top with the interpreter running this test (it has prometheus_client)."""
    return subprocess.run([sys.executable, troupe_top, *args], capture_output=True, text=True,
                          timeout=timeout)


def scrape(port):
    """{sample name: [(labels, value)]} of one /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def round_trip(s, n=64):
    s.sendall(b"x" * n)
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        if not chunk:
            fail("echo connection closed early")
        got += chunk


server, echo_port, metrics_port = start_echo_with_metrics(echo_bin, tmp)

# 1. Known work, connections held, one frame.
CONNECTIONS, TRIPS, HELD = 5, 20, 3
for _ in range(CONNECTIONS):
    with socket.create_connection(("127.0.0.1", echo_port), 5) as s:
        for _ in range(TRIPS):
            round_trip(s)
held = [socket.create_connection(("127.0.0.1", echo_port), 5) for _ in range(HELD)]
for s in held:
    round_trip(s)  # each has its session actor now
time.sleep(0.3)  # the closed connections' actors are gone
before = scrape(metrics_port)
workers = sorted({labels["worker"] for labels, _ in before["troupe_worker_busy_seconds_total"]})
live = int(before["troupe_actors_live"][0][1])
if not workers:
    fail("no troupe_worker_busy_seconds_total{worker} in /metrics")

stop, trips = threading.Event(), [0]


def load():  # echo work on a held connection while troupe_top measures
    while not stop.is_set():
        round_trip(held[0])
        trips[0] += 1


loader = threading.Thread(target=load)
loader.start()
run = top(f"127.0.0.1:{metrics_port}", "--once", "--interval", "1")
stop.set()
loader.join()
out = run.stdout
if run.returncode != 0 or run.stderr:
    fail(f"troupe_top --once: exit {run.returncode}, stderr {run.stderr!r}")
if "\x1b" in out:
    fail("--once printed escape codes")
lines = out.splitlines()
try:
    start = next(i for i, l in enumerate(lines) if l.split()[:2] == ["worker", "busy"])
    end = next(i for i, l in enumerate(lines) if l.startswith("injection queue: "))
except StopIteration:
    fail("no workers table (a 'worker busy' header and an 'injection queue' line):\n" + out)
rows = {}
for l in lines[start + 1:end]:
    m = re.match(r"\s*(\S+)\s+(\d+\.\d)%\s+([\d,.]+)\s+([\d,.]+)\s+([\d,.]+)\s+\d+\s+[\d,]+$", l)
    if not m:
        fail(f"a workers row without a busy percentage and rates: {l!r}\n" + out)
    rows[m.group(1)] = (float(m.group(2)), float(m.group(3).replace(",", "")))
if sorted(rows) != workers:
    fail(f"worker rows {sorted(rows)}, /metrics has workers {workers}:\n" + out)
if sum(turns for _, turns in rows.values()) <= 0:
    fail(f"no turns/s while {trips[0]} round trips ran:\n" + out)
m = re.search(r"^actors: (\d+) live, (\d+) spawned \(([\d.,]+)/s\)", out, re.M)
if not m or int(m.group(1)) != live:
    fail(f"live actors: /metrics says {live}, troupe_top:\n" + out)
if live < HELD:
    fail(f"{live} live actors with {HELD} connections held")
listener = re.search(rf"^127\.0\.0\.1:{echo_port}\s+(\d+)\s+\S+\s+\S+\s+(\d+)$", out, re.M)
if not listener or (int(listener.group(1)), int(listener.group(2))) != (HELD, CONNECTIONS + HELD):
    fail(f"the echo listener's row: want {HELD} open, {CONNECTIONS + HELD} accepted:\n" + out)
if not re.search(r"^turn\s+[\d.]+(ns|us|ms|s)\s+[\d.]+(ns|us|ms|s)\s", out, re.M):
    fail("no turn-duration p50/p99:\n" + out)
if "troupe_actor_messages_total" in before:
    if "busiest actor types" not in out:
        fail("per-type actor metrics in /metrics but no table:\n" + out)
elif "actor types opt in" not in out:
    fail("no hint that actor types opt in:\n" + out)
if not re.search(r"^dead letters: \d+", out, re.M) or "slow turns: " not in out:
    fail("no dead letters / slow turns in the header:\n" + out)
print(f"--once: workers {', '.join(f'{w} {rows[w][0]}% {rows[w][1]} turns/s' for w in workers)}; "
      f"{live} live actors; listener {HELD} open; {trips[0]} round trips meanwhile")

# 2. Refresh mode, not on a terminal, until Ctrl-C.
refresh = subprocess.Popen([sys.executable, troupe_top, str(metrics_port), "--interval", "0.5"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
procs.append(refresh)
header = f"troupe_top  http://127.0.0.1:{metrics_port}/metrics  "
frames = ""
while frames.count(header) < 3:  # two whole frames (each flushed as it is drawn)
    line = refresh.stdout.readline()
    if not line:
        fail(f"troupe_top's refresh mode exited {refresh.wait()}: {refresh.stderr.read()!r}")
    frames += line
refresh.send_signal(signal.SIGINT)
try:
    rest, errors = refresh.communicate(timeout=20)
except subprocess.TimeoutExpired:
    fail("troupe_top did not stop on SIGINT")
frames += rest
if refresh.returncode != 0 or errors:
    fail(f"refresh mode after SIGINT: exit {refresh.returncode}, stderr {errors!r}")
shown = [f for f in frames.split(header) if f]
if len(shown) < 2 or "\x1b" in frames:
    fail(f"refresh mode: {len(shown)} frames (want 2 or more, no escape codes):\n" + frames)
if not re.search(r"^\s*\d+\s+-\s+-\s+-\s+-\s+\d+\s+[\d,]+$", shown[0], re.M):
    fail("the first frame's worker rows should have totals and '-' for rates:\n" + shown[0])
if not re.search(r"^\s*\d+\s+\d+\.\d%\s+[\d,.]+\s", shown[1], re.M):
    fail("no busy percentage and rates in the second frame:\n" + shown[1])
count = len(shown)
print(f"refresh: {count} frames, SIGINT -> exit 0")

# 3. Targets that cannot be scraped.
class Garbage(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<html>not metrics</html>\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


garbage = http.server.HTTPServer(("127.0.0.1", 0), Garbage)
threading.Thread(target=garbage.serve_forever, daemon=True).start()
for target, why in ((f"127.0.0.1:{free_port()}", "cannot reach"),
                    (f"http://127.0.0.1:{metrics_port}/nope", "HTTP 404"),
                    (f"127.0.0.1:{echo_port}", "did not answer HTTP"),
                    (f"127.0.0.1:{garbage.server_port}", "unparsable")):
    run = top(target, "--once", "--interval", "0.2")
    err = run.stderr.splitlines()
    if run.returncode != 1 or run.stdout or len(err) != 1 or not err[0].startswith("troupe_top: ") \
            or why not in err[0]:
        fail(f"{target}: want exit 1 and one line saying {why!r}; got exit {run.returncode}, "
             f"stdout {run.stdout!r}, stderr {run.stderr!r}")
    print(f"{target}: exit 1, {err[0]}")
garbage.shutdown()

for s in held:
    s.close()
server.terminate()
if server.wait(timeout=20) != 0:
    fail("echo_server did not stop cleanly")
print("PASS")
