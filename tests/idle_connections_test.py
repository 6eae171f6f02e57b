"""10,000 mostly idle connections held by echo_server (a separate process) for a minute, each
sending a ping every 5 s: every ping is answered, in order, and no connection is dropped. Prints
the server's memory and CPU for the lot. Clients bind to several 127.0.0.x source addresses, so
the test never runs short of ephemeral ports.

    idle_connections_test.py ECHO_SERVER [HOLD_SECONDS=60] [CONNECTIONS=10000]
"""
import os
import selectors
import signal
import socket
import subprocess
import sys
import time


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def server_stats(pid):
    rss_kib = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kib = int(line.split()[1])
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss_kib, cpu_s, fds


def main():
    server_bin = sys.argv[1]
    hold = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
    server = subprocess.Popen(
        [server_bin, "--port=0", "--threads=2", "--max_connections=20000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    if not line.startswith("listening on port "):
        fail(f"echo_server did not start: {line!r} {server.stderr.read()}")
    port = int(line.split()[-1])
    rss_empty, _, fds_empty = server_stats(server.pid)

    selector = selectors.DefaultSelector()
    conns = []  # per connection: [socket, pings sent, pings answered, received bytes]
    start = time.monotonic()
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((f"127.0.0.{2 + i % 8}", 0))
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        conn = [s, 0, 0, b""]
        conns.append(conn)
        selector.register(s, selectors.EVENT_READ, conn)
    print(f"{count} connections open in {time.monotonic() - start:.1f} s")

    counts = {"dropped": 0, "wrong": 0}
    max_latency = [0.0]
    sent_at = {}

    def read_replies(conn):
        """Reads what arrived on `conn`; checks each echoed ping against the next expected."""
        data = conn[0].recv(65536)
        if not data:
            counts["dropped"] += 1
            selector.unregister(conn[0])
            return
        conn[3] += data
        while len(conn[3]) >= 11:
            if conn[3][:11] != b"ping%06d\n" % conn[2]:
                counts["wrong"] += 1
            conn[3] = conn[3][11:]
            conn[2] += 1
            max_latency[0] = max(max_latency[0], time.monotonic() - sent_at[id(conn)])

    per_tick = max(1, count // 50)  # every connection pings once per 50 ticks of 100 ms = 5 s
    next_conn = 0
    deadline = time.monotonic() + hold
    next_tick = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        if now >= next_tick:
            for _ in range(per_tick):
                conn = conns[next_conn]
                next_conn = (next_conn + 1) % count
                if conn[1] > conn[2]:
                    continue  # its last ping is still out: never more than one in flight
                message = b"ping%06d\n" % conn[1]
                conn[0].send(message)
                sent_at[id(conn)] = now
                conn[1] += 1
            next_tick += 0.1
        for key, _ in selector.select(timeout=max(0.0, min(next_tick, deadline) - time.monotonic())):
            read_replies(key.data)
    # Let the last pings come back.
    settle = time.monotonic() + 5
    while any(c[1] != c[2] for c in conns) and time.monotonic() < settle:
        for key, _ in selector.select(timeout=0.1):
            read_replies(key.data)
    sent = sum(c[1] for c in conns)
    answered = sum(c[2] for c in conns)
    rss, cpu, fds = server_stats(server.pid)
    dropped, wrong = counts["dropped"], counts["wrong"]
    print(f"held {count} connections for {hold:.0f} s: {sent} pings, {answered} answered, "
          f"{wrong} wrong, {dropped} dropped, max latency {max_latency[0] * 1000:.1f} ms")
    print(f"echo_server: RSS {rss_empty} KiB empty -> {rss} KiB "
          f"({(rss - rss_empty) * 1024 / count:.0f} bytes per connection), "
          f"{fds - fds_empty} more fds, {cpu:.2f} s CPU in all")
    for c in conns:
        c[0].close()
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=30)
    if dropped:
        fail(f"{dropped} connections were dropped")
    if wrong or answered != sent:
        fail(f"{sent} pings sent, {answered} answered, {wrong} wrong")
    if fds - fds_empty < count:
        fail(f"the server held {fds - fds_empty} descriptors for {count} connections")
    if code != 0:
        fail(f"echo_server exited with {code} on SIGTERM")
    print("ok")


if __name__ == "__main__":
    main()
