"""Debian's headless Chromium, driven through the DevTools protocol over `--remote-debugging-pipe`, for the tests of
the HTML pages the toolkit writes: what a page logged and fetched, its DOM, and a screenshot.

No test skips when Chromium is missing: `.ci/run` installs it (`apt-get install chromium`), and a missing browser
fails the test with that instruction.
"""

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # a container's small /dev/shm would crash the renderer
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no host resolves: a page that needs the network shows its errors
)


class Chromium:
    """One browser: `open(path)` loads a page and returns a `Page`; `close()` (or a `with` block) ends it."""

    def __init__(self, profile_dir: Path, width: int = 1200, height: int = 1600, timeout: float = 30.0):
        executable = shutil.which("chromium")
        if executable is None:
            raise RuntimeError("chromium is not installed: `apt-get install chromium` (.ci/run installs it)")
        self.width, self.height, self.timeout = width, height, timeout
        # The browser reads commands on file descriptor 3 and answers on 4: here, this end's stdin and stdout pipes.
        self.process = subprocess.Popen(
            ["sh", "-c", 'exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null', executable, *FLAGS]
            + ["--remote-debugging-pipe", f"--user-data-dir={profile_dir}", "about:blank"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._buffer = b""
        self._last_id = 0
        self.events: list[tuple[str, dict, str | None]] = []  # (method, params, session)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and wait for its answer, keeping the events that arrive meanwhile."""
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.process.stdin.write(json.dumps(message).encode() + b"\0")
        self.process.stdin.flush()
        while True:
            reply = self._read()
            if reply.get("id") == self._last_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._keep(reply)

    def wait_for(self, event: str) -> dict:
        """The params of the first `event` received, waiting for it if it has not come yet."""
        while True:
            for method, params, _ in self.events:
                if method == event:
                    return params
            self._keep(self._read())

    def _keep(self, message: dict) -> None:
        if "method" in message:
            self.events.append((message["method"], message.get("params", {}), message.get("sessionId")))

    def _read(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.process.stdout], [], [], left)[0]:
                raise TimeoutError(f"chromium sent nothing for {self.timeout:.0f} s")
            chunk = os.read(self.process.stdout.fileno(), 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium exited (status {self.process.poll()})")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def open(self, path: Path) -> "Page":
        """Load a file in a new tab of the window size, with the logs and the network watched; returns at its load
        event."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.call(f"{domain}.enable", session=session)
        size = {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False}
        self.call("Emulation.setDeviceMetricsOverride", size, session)
        self.events.clear()
        self.call("Page.navigate", {"url": Path(path).resolve().as_uri()}, session)
        self.wait_for("Page.loadEventFired")
        return Page(self, session)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.call("Browser.close")
            except (OSError, RuntimeError, TimeoutError):
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()


class Page:
    def __init__(self, browser: Chromium, session: str):
        self.browser, self.session = browser, session

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (JSON-serialisable)."""
        result = self.browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, self.session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Uncaught exceptions, console.error/assert calls and the browser's error log entries (a resource that did
        not load, a blocked request) since the page started loading."""
        found = []
        for method, params, session in self.browser.events:
            if session != self.session:
                continue
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(details.get("exception", {}).get("description") or details.get("text", ""))
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append(" ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(f"{params['entry']['text']} {params['entry'].get('url', '')}")
        return found

    def requested_urls(self) -> list[str]:
        return [
            params["request"]["url"]
            for method, params, session in self.browser.events
            if method == "Network.requestWillBeSent" and session == self.session
        ]

    def screenshot(self, path: Path) -> Path:
        data = self.browser.call("Page.captureScreenshot", {"format": "png"}, self.session)["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)
