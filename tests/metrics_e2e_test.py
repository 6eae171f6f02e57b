#!/usr/bin/python3
"""End to end: an echo_server's /metrics, as Prometheus sees it.

  1. known work (5 connections, 20 round trips each) and then a scrape, parsed with Debian's
     python3-prometheus-client: the exact connection counts, the per-worker series, histograms
     with cumulative buckets ending at +Inf;
  2. garbage and oversized requests to the metrics port are refused (400, 431) without harm;
  3. a real Prometheus (Debian's prometheus, started here on a loopback port with its data in the
     test's temporary directory) scrapes the server, and its HTTP query API returns the series
     with the same values.
"""
import json, os, socket, subprocess, sys, tempfile, time, urllib.parse, urllib.request

from prometheus_client.parser import text_string_to_metric_families

from e2e import fail, free_port, procs, start_echo_with_metrics

echo_bin = sys.argv[1]
tmp = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp()


def http(port, path, timeout=5):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.status, r.read().decode()


def raw(port, data):
    """What the metrics port answers to `data` before it closes."""
    with socket.create_connection(("127.0.0.1", port), 5) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


server, echo_port, metrics_port = start_echo_with_metrics(echo_bin, tmp)

# 1. Known work, then the exact counts.
CONNECTIONS, TRIPS = 5, 20
for _ in range(CONNECTIONS):
    with socket.create_connection(("127.0.0.1", echo_port), 5) as s:
        for i in range(TRIPS):
            s.sendall(b"x" * 64)
            got = b""
            while len(got) < 64:
                got += s.recv(64 - len(got))
time.sleep(0.3)  # the last connection's close reaches the listener
status, text = http(metrics_port, "/metrics")
families = {f.name: f for f in text_string_to_metric_families(text)}


def sample(family, suffix="", **labels):
    for s in families[family].samples:
        if s.name == family + suffix and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    fail(f"no sample {family}{suffix} {labels} in the scrape")


listener = f"127.0.0.1:{echo_port}"
# prometheus_client names a counter's family without its _total suffix.
if sample("troupe_tcp_connections_accepted", "_total", listener=listener) != CONNECTIONS:
    fail(f"accepted: {sample('troupe_tcp_connections_accepted', '_total', listener=listener)}")
if sample("troupe_tcp_connections_open", listener=listener) != 0:
    fail("connections still counted as open")
if sample("troupe_tcp_connections_refused", "_total", listener=listener) != 0:
    fail("connections refused")
# Echo: every byte read is written back.
for direction in ("received", "sent"):
    got = sample(f"troupe_tcp_{direction}_bytes", "_total", listener=listener)
    if got != CONNECTIONS * TRIPS * 64:
        fail(f"{direction} bytes: {got}, not {CONNECTIONS * TRIPS * 64}")
if sample("troupe_actors_spawned", "_total") < CONNECTIONS:
    fail("fewer actors spawned than connections served")
for worker in ("0", "1"):
    if sample("troupe_worker_turns", "_total", worker=worker) < 0:
        fail("no turns")
    sample("troupe_worker_busy_seconds", "_total", worker=worker)
turns = [s for s in families["troupe_turn_duration_seconds"].samples if s.name.endswith("_bucket")]
counts = [s.value for s in turns]
if counts != sorted(counts) or turns[-1].labels["le"] != "+Inf":
    fail(f"buckets not cumulative up to +Inf: {[(s.labels['le'], s.value) for s in turns]}")
if counts[-1] != sample("troupe_turn_duration_seconds", "_count"):
    fail("+Inf bucket != count")
if sample("troupe_dead_letters", "_total", reason="mailbox_full") != 0:
    fail("dead letters for full mailboxes")
print(f"scrape: {len(families)} families, {CONNECTIONS} connections accepted, "
      f"{int(counts[-1])} turns timed")

# 2. Garbage and oversized requests.
if not raw(metrics_port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc garbage").startswith(b"HTTP/1.1 400 "):
    fail("garbage was not refused with 400")
if not raw(metrics_port, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 431 "):
    fail("an oversized request was not refused with 431")
if http(metrics_port, "/healthz") != (200, "ok\n"):
    fail("healthz after bad requests")

# 3. A real Prometheus scrapes it.
prom_port = free_port()
config = os.path.join(tmp, "prometheus.yml")
with open(config, "w") as f:
    f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
            f"  - job_name: echo\n    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n")
prom = subprocess.Popen(["prometheus", f"--config.file={config}",
                         f"--storage.tsdb.path={os.path.join(tmp, 'prometheus-data')}",
                         f"--web.listen-address=127.0.0.1:{prom_port}"],
                        stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "prom.err"), "w"))
procs.append(prom)


def query(q):
    status, body = http(prom_port, "/api/v1/query?query=" + urllib.parse.quote(q))
    result = json.loads(body)["data"]["result"]
    return [r["value"][1] for r in result]


deadline = time.time() + 60
accepted = []
while time.time() < deadline:
    if prom.poll() is not None:
        fail("prometheus exited: " + open(os.path.join(tmp, "prom.err")).read()[-800:])
    try:
        if http(prom_port, "/-/ready", timeout=1)[0] == 200:
            accepted = query(f'troupe_tcp_connections_accepted_total{{listener="{listener}"}}')
            if accepted:
                break
    except OSError:
        pass
    time.sleep(0.5)
if accepted != [str(CONNECTIONS)]:
    fail(f"Prometheus' query returned {accepted}, wanted [{CONNECTIONS}]")
if query('up{job="echo"}') != ["1"]:
    fail("Prometheus does not see the target up")
buckets = query('count(troupe_turn_duration_seconds_bucket{job="echo"})')
print(f"prometheus: scraped; accepted = {accepted[0]}, up = 1, {buckets[0]} turn buckets")

prom.terminate()
prom.wait(timeout=20)
server.terminate()
if server.wait(timeout=20) != 0:
    fail("echo_server did not stop cleanly")
print("PASS")
