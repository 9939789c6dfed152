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


@contextlib.contextmanager
def running_server(workdir, *extra_args):
    """A realtime-server on a free port with the fixture's tight limits plus `extra_args`; stopped
    with SIGTERM at the end, which must exit cleanly."""
    binary = server_binary()
    assert binary.exists(), f"build the server first (swift build): {binary}"
    proc = subprocess.Popen(
        [str(binary), "--port", "0", "--in-memory", "--handshake-timeout-ms", "1000", "--idle-timeout-ms", "1000",
         "--max-write-queue-bytes", str(256 << 10), "--log-level", "debug",
         "--web-root", str(ROOT / "examples" / "web"), *extra_args],
        cwd=workdir, stderr=subprocess.PIPE, text=True)
    port = None
    log = []
    for line in proc.stderr:
        log.append(line)
        match = re.search(r"listening on ws://127\.0\.0\.1:(\d+)/ws", line)
        if match:
            port = int(match.group(1))
            break
    assert port, "the server did not report its port:\n" + "".join(log)
    # Keep draining the log: a full pipe would block the server's writes, and its loop with them.
    drain = threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True)
    drain.start()
    server = Server(proc, port)
    server.log = log
    try:
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        status = proc.wait(timeout=30)
        drain.join(timeout=10)
    assert status == 0, "".join(log[-50:])
    assert any("stopped cleanly" in line for line in log)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("server")) as server:
        yield server
