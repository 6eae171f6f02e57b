"""A real etcd for end-to-end tests: Debian's etcd-server on loopback ports, its data in a
temporary directory, one or more members; kill and restart members. Used by cluster_e2e_test
and chat_cluster_e2e_test."""
import os, socket, subprocess, time

from e2e import free_port




class Etcd:
    """`members` etcd members under `tmp`; their processes go to `procs`; `fail(msg)` on error."""

    def __init__(self, members, tmp, procs, fail):
        self.tmp, self.procs, self.fail = tmp, procs, fail
        self.members = [{"name": f"e{i}", "client": free_port(), "peer": free_port(),
                         "dir": os.path.join(self.tmp, f"etcd-{os.getpid()}-{time.time_ns()}-{i}")}
                        for i in range(members)]
        self.initial = ",".join(f"{m['name']}=http://127.0.0.1:{m['peer']}" for m in self.members)
        for m in self.members:
            self.spawn(m, "new")
        self.wait_healthy()

    def spawn(self, m, state):
        log = open(m["dir"] + ".log", "a")
        m["proc"] = subprocess.Popen(
            ["etcd", f"--name={m['name']}", f"--data-dir={m['dir']}",
             f"--listen-client-urls=http://127.0.0.1:{m['client']}",
             f"--advertise-client-urls=http://127.0.0.1:{m['client']}",
             f"--listen-peer-urls=http://127.0.0.1:{m['peer']}",
             f"--initial-advertise-peer-urls=http://127.0.0.1:{m['peer']}",
             f"--initial-cluster={self.initial}", f"--initial-cluster-state={state}",
             "--initial-cluster-token=troupe-e2e", "--heartbeat-interval=50",
             "--election-timeout=500", "--logger=zap", "--log-level=error"],
            stdout=log, stderr=log)
        self.procs.append(m["proc"])

    def endpoints(self):
        return ",".join(f"127.0.0.1:{m['client']}" for m in self.members)

    def wait_healthy(self, timeout=20):
        # The probe itself: a member can join only through a healthy etcd.
        deadline = time.time() + timeout
        while time.time() < deadline:
            for m in self.members:
                if m["proc"].poll() is not None and m.get("alive", True):
                    self.fail(f"etcd {m['name']} exited: {open(m['dir'] + '.log').read()[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.members[0]["client"]), 0.2):
                    return
            except OSError:
                time.sleep(0.1)
        self.fail("etcd did not start")

    def kill(self, i):
        self.members[i]["alive"] = False
        self.members[i]["proc"].kill()
        self.members[i]["proc"].wait()

    def restart(self, i):
        self.members[i]["alive"] = True
        self.spawn(self.members[i], "existing")

    def get_prefix(self, prefix):
        """{key: value} (bytes) of the keys starting with `prefix`, through etcd's JSON gateway."""
        import base64, json, urllib.request
        key = prefix.encode()
        end = key[:-1] + bytes([key[-1] + 1])
        body = json.dumps({"key": base64.b64encode(key).decode(),
                           "range_end": base64.b64encode(end).decode()}).encode()
        url = f"http://127.0.0.1:{self.members[0]['client']}/v3/kv/range"
        with urllib.request.urlopen(urllib.request.Request(url, body), timeout=5) as r:
            kvs = json.load(r).get("kvs", [])
        return {base64.b64decode(kv["key"]): base64.b64decode(kv.get("value", ""))
                for kv in kvs}
