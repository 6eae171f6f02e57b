#!/usr/bin/python3
"""End to end: record a chat_server run and replay it, as a user would. chat_server (2 workers,
kernel sockets) runs with --record=FILE while three plain-socket members chat in a room (one
quits, one just disconnects, one stays until the server stops); SIGTERM writes the recording.
chat_replay --recording=FILE --transcripts then replays it on the deterministic simulation: it
must exit 0 and its replayed clients must have received exactly what the real members did. A
truncated recording is refused (exit 2)."""
import os, re, select, signal, socket, subprocess, sys, tempfile, time

from e2e import fail, procs

server_bin, replay_bin = sys.argv[1], sys.argv[2]
tmp = os.environ.get("TEST_TMPDIR", tempfile.mkdtemp())
recording = os.path.join(tmp, "chat.rec")


class Member:
    def __init__(self, port, nick):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.received = b""
        self.nick = nick

    def send(self, text):
        self.sock.sendall(text.encode())

    def read_until(self, want, timeout=10):
        deadline = time.time() + timeout
        while want.encode() not in self.received:
            left = deadline - time.time()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                fail(f"{self.nick}: no {want!r} in {self.received.decode(errors='replace')!r}")
            chunk = self.sock.recv(65536)
            if not chunk:
                fail(f"{self.nick}: closed before {want!r}")
            self.received += chunk

    def read_to_end(self, timeout=10):
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                fail(f"{self.nick}: the server did not close the connection")
            chunk = self.sock.recv(65536)
            if not chunk:
                return
            self.received += chunk


server = subprocess.Popen([server_bin, "--port=0", "--threads=2", f"--record={recording}"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
procs.append(server)  # fail() stops it
m = re.match(r"chat on port (\d+)", server.stdout.readline())
if not m:
    fail("chat_server did not start: " + server.stderr.read())
port = int(m.group(1))
try:
    ann, bob, cyd = Member(port, "ann"), Member(port, "bob"), Member(port, "cyd")
    for member in (ann, bob, cyd):
        member.send(f"/nick {member.nick}\n/join tea\n")
        member.read_until("* joined tea")
    for i in range(5):  # all three at once: the room decides one order
        for member in (ann, bob, cyd):
            member.send(f"{member.nick} says {i}\n")
    for member in (ann, bob, cyd):
        member.read_until(f"[tea] {member.nick}: {member.nick} says 4")
    for member in (ann, bob, cyd):
        member.read_until("cyd: cyd says 4")
    bob.send("/who tea\n/rooms\n")
    bob.read_until("* rooms tea")
    ann.send("/quit\n")
    ann.read_to_end()
    cyd.read_until("* ann left tea")  # all it was sent: then gone without a word
    cyd.sock.close()
    bob.read_until("* cyd left tea")
    server.send_signal(signal.SIGTERM)
    bob.read_to_end()
    _, err = server.communicate(timeout=30)
finally:
    if server.poll() is None:
        server.kill()
if server.returncode != 0:
    fail(f"chat_server exited {server.returncode}: {err}")
if "chat_server: recorded 5 actors" not in err:
    fail("no recording summary in chat_server's stderr: " + err)

replay = subprocess.run([replay_bin, f"--recording={recording}", "--transcripts"],
                        capture_output=True, text=True, timeout=120)
if replay.returncode != 0:
    fail(f"chat_replay exited {replay.returncode}: {replay.stderr}")
if "replayed as recorded" not in replay.stdout:
    fail("chat_replay did not say it replayed as recorded: " + replay.stdout)
replayed = sorted(re.split(r"^--- client \d+\n", replay.stdout, flags=re.M)[1:])
real = sorted(member.received.decode() for member in (ann, bob, cyd))
if replayed != real:
    fail(f"the replayed clients received {replayed!r}, the real members {real!r}")

with open(recording, "rb") as f:
    head = f.read(os.path.getsize(recording) // 2)
truncated = os.path.join(tmp, "truncated.rec")
with open(truncated, "wb") as f:
    f.write(head)
bad = subprocess.run([replay_bin, f"--recording={truncated}"], capture_output=True, text=True,
                     timeout=60)
if bad.returncode != 2 or "INVALID_ARGUMENT" not in bad.stderr:
    fail(f"a truncated recording: exit {bad.returncode}, {bad.stderr!r}")
print("PASS:", replay.stdout.splitlines()[0], "- replayed with identical output")
