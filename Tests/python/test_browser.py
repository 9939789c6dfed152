"""A real browser: headless Chromium loads the browser client from / and connects over /ws.
Driven through the DevTools protocol (over a WebSocket, with the same `websockets` library)."""
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import websockets


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("chromium is not installed: scripts/deps.sh test installs it")


async def page_state(devtools_url, page_url, deadline):
    """Navigates the first page to `page_url`, then returns the page's connection state once it
    is no longer "connecting" (or whatever it is at the deadline)."""
    async with websockets.connect(devtools_url, max_size=None) as cdp:
        next_id = 0

        async def call(method, **params):
            nonlocal next_id
            next_id += 1
            await cdp.send(json.dumps({"id": next_id, "method": method, "params": params}))
            while True:
                reply = json.loads(await cdp.recv())
                if reply.get("id") == next_id:
                    return reply

        await call("Page.enable")
        await call("Page.navigate", url=page_url)
        state = None
        while time.monotonic() < deadline:
            # "ponged" once the page has sent connect, got connected, and had a ping answered.
            expression = ("!document.body ? '' : document.body.dataset.state === 'closed' ? 'closed' : "
                          "document.body.dataset.session && document.body.dataset.pongs ? 'ponged' : ''")
            reply = await call("Runtime.evaluate", expression=expression, returnByValue=True)
            state = reply.get("result", {}).get("result", {}).get("value")
            if state:
                return state
            await asyncio.sleep(0.05)  # polling a condition, bounded by the deadline
        return state


def test_headless_chromium_loads_the_client_connects_and_pings(server):
    # Chromium's helper processes may still be writing the profile as they exit.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        browser = subprocess.Popen(
            [chromium_binary(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", "about:blank"],
            stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            port = None
            deadline = time.monotonic() + 60
            for line in browser.stderr:
                match = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
                if match:
                    port = int(match.group(1))
                    break
                assert time.monotonic() < deadline, "chromium did not start"
            assert port, "chromium did not report its DevTools port"
            targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
            page = next(t for t in targets if t.get("type") == "page")
            state = asyncio.run(page_state(page["webSocketDebuggerUrl"], f"http://127.0.0.1:{server.port}/",
                                           time.monotonic() + 30))
            assert state == "ponged"
        finally:
            # The whole process group: the browser and its renderer and utility processes.
            os.killpg(browser.pid, signal.SIGTERM)
            try:
                browser.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(browser.pid, signal.SIGKILL)
                browser.wait(timeout=10)
