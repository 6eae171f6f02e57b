#!/usr/bin/python3
"""End to end: the chat flood of issue 19 against the chat_server binary at its default limits,
on each backend. Three members of one room, plain sockets: a flooder sends 8,000 lines of 1 KB
as fast as the server takes them (and reads its own echo), a member reads line by line at Python
speed (0.5 ms of work per line: 8,000 lines take it several seconds, far slower than the
flood), and a member never reads. Passes when the reading member gets every line in order and is
never disconnected, the flooder is paced rather than refused, and the member that never reads
is cut off - with its reason in the server's log - once it has taken nothing for the default
stall timeout (30 s). The reading member never waits long for its next line (the deaf member
holds the room for the 2 s pace timeout at most). Also with --history_dir on io_uring, where
a reader once got nothing for 15 s."""
import os, re, socket, subprocess, sys, tempfile, threading, time

server_bin = sys.argv[1]
LINES, TEXT = 8000, "f" * 1000
WANT = f"[r] flooder: {TEXT}"


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


class Member:
    def __init__(self, port, nick):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("r", encoding="utf-8", newline="\n")
        self.sock.sendall(f"/nick {nick}\n/join r\n".encode())
        for want in (f"* nick {nick}", "* joined r"):
            got = self.line()
            if got != want:
                fail(f"{nick}: expected {want!r}, got {got!r}")

    def line(self, timeout=60):
        self.sock.settimeout(timeout)
        try:
            return self.file.readline().rstrip("\n")
        except socket.timeout:
            return "<timeout>"


def run(backend, flags=()):
    proc = subprocess.Popen([server_bin, "--port=0", f"--backend={backend}", *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    m = re.match(r"chat on port (\d+)", proc.stdout.readline())
    if not m:
        if "io_uring is unavailable" in proc.stderr.read():
            print(f"{backend}: io_uring unavailable here, skipped")
            return
        fail(f"chat_server --backend={backend} did not start")
    port = int(m.group(1))
    try:
        flooder = Member(port, "flooder")
        reader = Member(port, "reader")
        deaf = Member(port, "deaf")  # never reads from here on
        for want in ("* reader joined r", "* deaf joined r"):
            if flooder.line() != want:
                fail(f"flooder: expected {want!r}")
        if reader.line() != "* deaf joined r":
            fail("reader: no '* deaf joined r'")

        errors = []

        def read_all(member, name, counts, work):
            got, left, last, gap = 0, False, time.time(), 0.0
            while got < LINES or not left:
                line = member.line()
                now = time.time()
                if got < LINES:  # (the wait for the cut-off notice after the flood is no gap)
                    gap = max(gap, now - last)
                last = now
                if line == WANT:
                    got += 1
                    if work:
                        time.sleep(work)
                elif line == "* deaf left r":
                    left = True
                else:
                    errors.append(f"{name}: got {line[:60]!r} after {got} lines")
                    return
            counts[name] = got
            gaps[name] = gap

        counts, gaps = {}, {}
        readers = [threading.Thread(target=read_all, args=(flooder, "flooder", counts, 0)),
                   threading.Thread(target=read_all, args=(reader, "reader", counts, 0.0005))]
        for t in readers:
            t.start()
        start = time.time()
        flooder.sock.sendall("".join(TEXT + "\n" for _ in range(LINES)).encode())
        sent_in = time.time() - start
        for t in readers:
            t.join(timeout=120)
        if errors or any(t.is_alive() for t in readers):
            fail(f"{backend}: {errors or 'a reader did not finish'}")
        if counts != {"flooder": LINES, "reader": LINES}:
            fail(f"{backend}: counts {counts}")
        took = time.time() - start
        if gaps["reader"] > 10:
            fail(f"{backend} {flags}: the reader waited {gaps['reader']:.1f} s for a line")
        print(f"{backend} {' '.join(flags)}: {LINES} lines to the reader in order (longest wait "
              f"{gaps['reader']:.2f} s), flood sent in {sent_in:.1f} s, the deaf member cut off "
              f"after {took:.1f} s")
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    cut = [l for l in err.splitlines() if "chat: cut off a member" in l]
    if len(cut) != 1 or "deaf" not in cut[0] or "took no output for 30" not in cut[0]:
        fail(f"{backend}: expected one cut-off of deaf (no output for 30 s) in the log: {cut}")
    if "1 members cut off" not in err:
        fail(f"{backend}: the count of members cut off is not 1: {err[-300:]}")
    print(f"{backend}: logged: {cut[0]}")


run("epoll")
run("uring")
run("uring", [f"--history_dir={tempfile.mkdtemp(dir=os.environ.get('TEST_TMPDIR'))}"])
print("PASS")
