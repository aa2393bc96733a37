"""A page opened in headless Chromium, driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
JSON messages ending in a NUL byte on file descriptors 3 and 4), so the test needs the browser and nothing else.

``open_page`` loads a file, waits for its load event, and returns what a reader would meet: console errors and
uncaught exceptions, failed loads, images that did not decode, in-page links without their target.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--remote-debugging-pipe")
# Run in the page after its load event: what did not load, and which in-page links point nowhere.
CHECKS = """({
  brokenImages: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))
                     .map(i => i.getAttribute('src').slice(0, 80)),
  images: document.images.length,
  deadLinks: Array.from(document.querySelectorAll('a[href^="#"]'))
                  .filter(a => !document.getElementById(decodeURIComponent(a.hash.slice(1))))
                  .map(a => a.getAttribute('href')),
  links: document.querySelectorAll('a[href^="#"]').length,
})"""


def _above_nine(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


def find_chromium() -> str | None:
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


@dataclass
class PageCheck:
    errors: list[str] = field(default_factory=list)  # console errors, exceptions, failed loads
    broken_images: list[str] = field(default_factory=list)
    dead_links: list[str] = field(default_factory=list)
    images: int = 0
    links: int = 0


class Browser:
    """One headless Chromium with a fresh profile; ``with Browser(path) as browser: browser.open_page(file)``."""

    def __init__(self, executable: str, timeout: float = 60.0):
        self.timeout, self.profile = timeout, tempfile.mkdtemp(prefix="bench-chromium-")
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()
        # Above 9, so that moving them to 3 and 4 in the child never overwrites one with the other.
        commands_read, replies_write = (_above_nine(fd) for fd in (commands_read, replies_write))

        # The protocol's fixed descriptors: 3 reads commands, 4 writes replies; bash moves the pipes there.
        moved = f'exec "$0" "$@" 3<&{commands_read} 4>&{replies_write} {commands_read}<&- {replies_write}>&-'
        self.process = subprocess.Popen(
            ["bash", "-c", moved, executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(commands_read, replies_write))
        os.close(commands_read)
        os.close(replies_write)
        self._buffer, self._next_id, self.events = b"", 0, []

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.send("Browser.close")
        except (OSError, TimeoutError, RuntimeError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._commands)
        os.close(self._replies)
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._replies, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, session: str | None = None, **params) -> dict:
        """Send one command and return its result; events that arrive meanwhile are kept in ``events``."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == method and e.get("sessionId") == session for e in self.events):
            self.events.append(self._read(deadline))

    def open_page(self, page: Path) -> PageCheck:
        """Load ``page`` in a new tab and check it."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session)
        self.events.clear()
        self.send("Page.navigate", session, url=page.resolve().as_uri())
        self.wait_for("Page.loadEventFired", session)
        found = self.send("Runtime.evaluate", session, expression=CHECKS, returnByValue=True)["result"]["value"]
        check = PageCheck(broken_images=found["brokenImages"], dead_links=found["deadLinks"],
                          images=found["images"], links=found["links"])
        for event in self.events:
            params = event.get("params", {})
            if event.get("method") == "Runtime.exceptionThrown":
                check.errors.append(params["exceptionDetails"].get("text", "exception"))
            elif event.get("method") == "Runtime.consoleAPICalled" and params.get("type") == "error":
                check.errors.append(" ".join(str(a.get("value", "")) for a in params.get("args", [])))
            elif event.get("method") == "Log.entryAdded" and params["entry"].get("level") == "error":
                check.errors.append(f"{params['entry'].get('text')} {params['entry'].get('url', '')}")
        self.send("Target.closeTarget", targetId=target)
        return check
