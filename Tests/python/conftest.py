"""Fixtures: a real realtime-server process on a free loopback port, as users run it."""
import contextlib
import os
import pathlib
import re
import signal
import subprocess
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def server_binary() -> pathlib.Path:
    env = os.environ.get("RT_SERVER")
    if env:
        return pathlib.Path(env)
    out = subprocess.run(["swift", "build", "--show-bin-path"], cwd=ROOT, capture_output=True, text=True, check=True)
    return pathlib.Path(out.stdout.strip()) / "realtime-server"


class Server:
    def __init__(self, proc: subprocess.Popen, port: int):
        self.proc = proc
        self.port = port
        self.url = f"ws://127.0.0.1:{port}/ws"

    def rss_kib(self) -> int:
        for line in pathlib.Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")


def start_server(workdir, *extra_args, db=None, binary=None) -> Server:
    """Starts a realtime-server on a free port with the fixture's tight limits plus `extra_args` and
    returns it once it reports its port; the caller stops it (`stop_server`, or SIGKILL). In memory
    (`--in-memory`) unless `db` names a database file (`--db db`). The publish and subscribe rate
    limits are off (the channel tests flood on purpose) unless `extra_args` sets them:
    test_limits.py tests them."""
    binary = binary or server_binary()
    assert binary.exists(), f"build the server first (swift build): {binary}"
    storage = ["--in-memory"] if db is None else ["--db", str(db)]
    limits = ["--rate-limit", "publish=off", "--rate-limit", "subscribe=off"]
    proc = subprocess.Popen(
        [str(binary), "--port", "0", *storage, "--handshake-timeout-ms", "1000", "--idle-timeout-ms", "1000",
         "--max-write-queue-bytes", str(256 << 10), "--log-level", "debug",
         "--web-root", str(ROOT / "examples" / "web"), *limits, *extra_args],
        cwd=workdir, stderr=subprocess.PIPE, text=True)
    port = None
    log = []
    for line in proc.stderr:
        log.append(line)
        match = re.search(r"listening on ws://127\.0\.0\.1:(\d+)/ws", line)
        if match:
            port = int(match.group(1))
            break
    if not port:
        proc.kill()
        proc.wait(timeout=30)
    assert port, "the server did not report its port:\n" + "".join(log)
    # Keep draining the log: a full pipe would block the server's writes, and its loop with them.
    drain = threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True)
    drain.start()
    server = Server(proc, port)
    server.log = log
    server.drain = drain
    return server


def stop_server(server: Server) -> int:
    """SIGTERM (if still running), then the exit status, once the log is drained."""
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
    status = server.proc.wait(timeout=30)
    server.drain.join(timeout=10)
    return status


@contextlib.contextmanager
def running_server(workdir, *extra_args, db=None):
    """A realtime-server on a free port with the fixture's tight limits plus `extra_args` (in memory,
    or on the database file `db`); stopped with SIGTERM at the end, which must exit cleanly."""
    server = start_server(workdir, *extra_args, db=db)
    try:
        yield server
    finally:
        status = stop_server(server)
    log = server.log
    assert status == 0, "".join(log[-50:])
    assert any("stopped cleanly" in line for line in log)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("server")) as server:
        yield server
