"""What the end-to-end tests share: the processes a test started (killed when it fails), a
failure that says why, and a free loopback port."""
import socket, sys

procs = []  # every process a test starts, so fail() can stop them


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    for p in procs:
        if p.poll() is None:
            p.kill()
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
