"""What the end-to-end tests share: the processes a test started (killed when it fails), a
failure that says why, and a free loopback port."""
import os, socket, subprocess, sys

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


def start_echo_with_metrics(echo_bin, tmp):
    """Starts echo_server (2 workers) with its echo and metrics ports picked free; returns the
    process (stopped by fail()) and the two ports. Its stderr goes to tmp/echo.err."""
    err = os.path.join(tmp, "echo.err")
    server = subprocess.Popen([echo_bin, "--port=0", "--metrics_port=0", "--threads=2"],
                              stdout=subprocess.PIPE, stderr=open(err, "w"), text=True)
    procs.append(server)
    ports = {}
    while len(ports) < 2:
        line = server.stdout.readline()
        if not line:
            fail("echo_server exited: " + open(err).read()[-500:])
        if line.startswith("listening on port "):
            ports["echo"] = int(line.split()[-1])
        elif line.startswith("metrics on port "):
            ports["metrics"] = int(line.split()[-1])
    return server, ports["echo"], ports["metrics"]
