#!/usr/bin/python3
"""End to end: a troupe cluster of three cluster_node processes on a real etcd (Debian's
etcd-server, started here on loopback ports with its data in the test's temporary directory),
probed by a fourth member that hosts nothing (cluster_node --ask). Checks, with a 2 s lease:

  1. 300 counter identities are activated, spread over the three nodes;
  2. kill -9 of a node: its identities are served by the others within the lease plus a bounded
     margin; asks for the other identities never fail meanwhile;
  3. single activation: across the kill and the moves, no identity of the "single" kind is
     ever active on two nodes at once (the nodes' activation logs, compared);
  4. SIGSTOP of a node past its lease, then SIGCONT: it fences itself (its log says so) and its
     identities moved to the others meanwhile; after it rejoins, those that come back to it start
     from scratch (a new activation, not its stale state);
  5. a graceful leave (SIGTERM) hands the node's identities over at once;
  6. a three-member etcd with two members killed: no new activation happens; when one member
     comes back the cluster recovers.
"""
import os, re, shutil, signal, socket, subprocess, sys, tempfile, time

from e2e import fail, procs
from etcd_fixture import Etcd

node_bin = sys.argv[1]
tmp = os.environ.get("TEST_TMPDIR") or tempfile.mkdtemp()
TTL = 2.0


def start_node(name, etcd, kinds="counter,single"):
    log = os.path.join(tmp, f"{name}.activations")
    err = open(os.path.join(tmp, f"{name}.stderr"), "a")
    p = subprocess.Popen([node_bin, f"--name={name}", "--listen=127.0.0.1:0",
                          f"--etcd={etcd.endpoints()}", f"--cluster_ttl={TTL}s", f"--kinds={kinds}",
                          f"--activation_log={log}", "--threads=1"],
                         stdout=subprocess.PIPE, stderr=err, text=True)
    procs.append(p)
    line = p.stdout.readline()
    if not line.startswith("cluster node"):
        fail(f"{name} did not start: {open(os.path.join(tmp, name + '.stderr')).read()[-500:]}")
    return p


def probe(etcd, n=300, kind="counter", first=0, timeout="3s", ping=False):
    """Asks kind/first..first+n-1 from a new member; returns {id: owner or None}."""
    out = subprocess.run([node_bin, f"--name=probe-{time.time_ns()}", "--listen=127.0.0.1:0",
                          f"--etcd={etcd.endpoints()}", f"--cluster_ttl={TTL}s", "--kinds=",
                          f"--ask={n}", f"--ask_kind={kind}", f"--ask_first={first}",
                          f"--ask_timeout={timeout}", f"--ask_ping={str(ping).lower()}",
                          "--threads=1"],
                         capture_output=True, text=True, timeout=120)
    owners = {}
    for line in out.stdout.splitlines():
        parts = line.split(" ", 1)
        if len(parts) == 2 and parts[0].isdigit():
            owners[int(parts[0])] = None if parts[1].startswith("failed") else parts[1]
    return owners


def settled(etcd, n=300, kind="counter", ping=False, timeout=10):
    """Probes until every identity answers (views settle after a join)."""
    deadline = time.time() + timeout
    while True:
        owners = probe(etcd, n=n, kind=kind, ping=ping)
        if len(owners) == n and None not in owners.values():
            return owners
        if time.time() > deadline:
            fail(f"{sum(v is None for v in owners.values())} of {n} {kind} identities still fail")


def owner_name(reply):
    return reply.split("@")[0] if reply else None


def check_single_activation(names, killed_at):
    """Per identity of kind single, no two nodes' activation intervals overlap."""
    intervals = {}
    for name in names:
        path = os.path.join(tmp, f"{name}.activations")
        if not os.path.exists(path):
            continue
        open_at = {}
        for line in open(path):
            t, what, ident = line.split()
            t = int(t) / 1e6
            if not ident.startswith("single/"):
                continue
            if what == "activated":
                open_at[ident] = t
            elif ident in open_at:
                intervals.setdefault(ident, []).append((open_at.pop(ident), t, name))
        for ident, t in open_at.items():  # still active, or killed
            intervals.setdefault(ident, []).append((t, killed_at.get(name, time.time()), name))
    for ident, spans in intervals.items():
        spans.sort()
        for (s1, e1, n1), (s2, e2, n2) in zip(spans, spans[1:]):
            if s2 < e1 and n1 != n2:
                fail(f"{ident} was active on {n1} ({s1:.3f}-{e1:.3f}) and {n2} ({s2:.3f}-{e2:.3f})")
    return sum(len(v) for v in intervals.values())


etcd = Etcd(1, tmp, procs, fail)
nodes = {name: start_node(name, etcd) for name in ("n1", "n2", "n3")}
killed_at = {}

# 1. 300 identities, spread over the three (once the three see each other).
owners = settled(etcd)
spread = {}
for reply in owners.values():
    spread[owner_name(reply)] = spread.get(owner_name(reply), 0) + 1
if sorted(spread) != ["n1", "n2", "n3"] or min(spread.values()) < 60:
    fail(f"not spread over the three: {spread}")
settled(etcd, n=60, kind="single")
print(f"1. 300 identities activated: {spread}")

# 2. kill -9 n2: its identities move within the lease + a margin; the others never fail.
on_n2 = {i for i, r in owners.items() if owner_name(r) == "n2"}
nodes["n2"].kill()
nodes["n2"].wait()
killed_at["n2"] = time.time()
recovered = None
while time.time() - killed_at["n2"] < TTL + 5:
    now = probe(etcd, timeout="1s")
    others_failed = [i for i, r in now.items() if r is None and i not in on_n2]
    if others_failed:
        fail(f"identities not on n2 failed after the kill: {others_failed[:5]}")
    if len(now) == 300 and all(owner_name(r) in ("n1", "n3") for r in now.values()):
        recovered = time.time() - killed_at["n2"]
        break
if recovered is None:
    fail("n2's identities did not come back on n1/n3")
print(f"2. kill -9 n2: its {len(on_n2)} identities served again after {recovered:.1f} s "
      f"(lease {TTL:.0f} s); no other identity failed")
probe(etcd, n=60, kind="single")  # move the single ones too

# 4. SIGSTOP n1 past its lease, then SIGCONT: it fences itself.
nodes["n2"] = start_node("n2", etcd)
settled(etcd)
before = settled(etcd, ping=True)  # each counted at least once: state a stale one would keep
on_n1 = {i for i, r in before.items() if owner_name(r) == "n1"}
if any(before[i].rsplit(":", 2)[1] == "0" for i in on_n1):
    fail("the Pings before the stop were not counted")
nodes["n1"].send_signal(signal.SIGSTOP)
stopped = time.time()
time.sleep(TTL + 1.5)
during = probe(etcd, timeout="2s")
if any(owner_name(during.get(i)) not in ("n2", "n3") for i in on_n1):
    fail("while n1 was stopped its identities were not served by n2/n3")
nodes["n1"].send_signal(signal.SIGCONT)
deadline = time.time() + 5
while "stops its virtual actors" not in open(os.path.join(tmp, "n1.stderr")).read():
    if time.time() > deadline:
        fail("n1 did not fence itself after SIGCONT")
    time.sleep(0.1)
time.sleep(TTL)  # it rejoins with a new incarnation
after = settled(etcd)
back_on_n1 = [i for i in on_n1 if owner_name(after.get(i)) == "n1"]
stale = [i for i in back_on_n1 if after[i].rsplit(":", 2)[1] != "0"]  # NODE@HOST:PORT:COUNT:TOKEN
if not back_on_n1 or stale:
    fail(f"after rejoining, n1 got back {len(back_on_n1)} identities, {len(stale)} with stale state")
print(f"4. SIGSTOP n1 past its lease: served by the others while stopped; fenced after SIGCONT; "
      f"{len(back_on_n1)} identities back on n1, activated anew")
probe(etcd, n=60, kind="single")

# 5. A graceful leave hands over at once.
on_n3 = {i for i, r in after.items() if owner_name(r) == "n3"}
nodes["n3"].send_signal(signal.SIGTERM)
nodes["n3"].wait(timeout=10)
left = time.time()
now = probe(etcd, timeout="1s")
took = time.time() - left
if any(r is None or owner_name(r) == "n3" for r in now.values()):
    fail("after n3 left, some identities failed or still went to n3")
print(f"5. n3 left gracefully: its {len(on_n3)} identities answered by the others in the first "
      f"probe, {took:.1f} s later (no lease wait)")
probe(etcd, n=60, kind="single")

# 3. No single identity was ever active on two nodes at once.
spans = check_single_activation(["n1", "n2", "n3"], killed_at)
print(f"3. single activation: {spans} activation intervals of 60 identities, none overlapping")

# 6. Three etcd members, two killed: no new activations; one back: recovery.
for p in nodes.values():
    if p.poll() is None:
        p.kill()
etcd3 = Etcd(3, tmp, procs, fail)
quorum_nodes = [start_node(f"q{i}", etcd3, "counter") for i in range(2)]
ok = probe(etcd3, n=20)
if None in ok.values():
    fail("three-member etcd: asks failed with every member up")
etcd3.kill(1)
etcd3.kill(2)
time.sleep(TTL + 1)
no_quorum = probe(etcd3, n=5, first=1000, timeout="2s")
if any(r is not None for r in no_quorum.values()):
    fail("an identity was activated without etcd quorum")
activated = sum(line.split()[2].startswith("counter/100")
                for name in ("q0", "q1")
                for line in open(os.path.join(tmp, f"{name}.activations"))
                if os.path.exists(os.path.join(tmp, f"{name}.activations")))
if activated:
    fail(f"{activated} activations happened without etcd quorum")
etcd3.restart(2)
deadline = time.time() + 20
while True:
    back = probe(etcd3, n=5, first=1000, timeout="2s")
    if len(back) == 5 and None not in back.values():
        break
    if time.time() > deadline:
        fail("the cluster did not recover when etcd regained quorum")
print("6. etcd without quorum: no new activation; with one member back: recovered")
for p in procs:
    if p.poll() is None:
        p.kill()
print("PASS")
