#!/usr/bin/python3
"""End to end: chat_server (the binary) with chat_client driven through a pseudo-terminal, as a
person would use it: /nick, /join, a line to the room, /quit. A second client (a plain socket)
in the same room sees the message. Then SIGTERM: the server saves the history and exits 0, and
a restarted server on the same --history_dir replays it."""
import os, pty, re, select, signal, socket, subprocess, sys, tempfile, time

server_bin, client_bin = sys.argv[1], sys.argv[2]
tmp = os.environ.get("TEST_TMPDIR", tempfile.mkdtemp())
history = os.path.join(tmp, "history")


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def start_server():
    proc = subprocess.Popen([server_bin, "--port=0", "--threads=2", f"--history_dir={history}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    m = re.match(r"chat on port (\d+)", proc.stdout.readline())
    if not m:
        fail("chat_server did not start: " + proc.stderr.read())
    return proc, int(m.group(1))


def read_until(fd, want, timeout=10):
    out, deadline = b"", time.time() + timeout
    while want.encode() not in out:
        left = deadline - time.time()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            fail(f"no {want!r} in {out.decode(errors='replace')!r}")
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            fail(f"closed before {want!r}; got {out.decode(errors='replace')!r}")
        out += chunk
    return out.decode()


server, port = start_server()
try:
    watcher = socket.create_connection(("127.0.0.1", port))
    watcher.sendall(b"/nick watcher\n/join lobby\n")
    read_until(watcher.fileno(), "* joined lobby")

    pid, tty = pty.fork()
    if pid == 0:
        os.execv(client_bin, [client_bin, f"127.0.0.1:{port}"])
    read_until(tty, "connected to")
    os.write(tty, b"/nick alice\n")
    read_until(tty, "* nick alice")
    os.write(tty, b"/join lobby\n")
    read_until(tty, "* joined lobby")
    os.write(tty, b"hello from a terminal\n")
    read_until(tty, "[lobby] alice: hello from a terminal")
    read_until(watcher.fileno(), "[lobby] alice: hello from a terminal")
    os.write(tty, b"/quit\n")
    read_until(tty, "* bye")
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        fail(f"chat_client exited with {os.waitstatus_to_exitcode(status)} after /quit")
    read_until(watcher.fileno(), "* alice left lobby")
    print("ok: a join-say-quit session through a terminal")
finally:
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=20)
if code != 0:
    fail(f"chat_server exited with {code} on SIGTERM: {server.stderr.read()}")

server, port = start_server()  # the history survives the restart
try:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"/nick bob\n/join lobby\n")
    read_until(s.fileno(), "# [lobby] alice: hello from a terminal")
    print("ok: history replayed after a restart")
finally:
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=20)
