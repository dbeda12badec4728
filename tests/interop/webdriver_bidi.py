"""Firefox driven through WebDriver BiDi, the W3C browser-automation protocol built into
Firefox (``--remote-debugging-port``): no geckodriver (Debian has no package of it) and no
Mozilla client library (marionette_driver is marked inactive and pulls a dozen mozbase
packages). A small synchronous client on ``websocket-client`` (a dependency of Selenium too).

``Firefox.launch`` starts ``firefox-esr --headless`` on a fresh profile in a temporary
directory (HOME and the XDG directories point there too, so nothing is written elsewhere),
opens a BiDi session and collects the console's errors; ``close`` ends the session, the
browser and every process of its group, checks none is left and removes the directory.
Element actions are real input (``input.performActions``), as WebDriver's click and typing.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from typing import Any

import websocket

# Set before the first start. The remote agent applies its own recommended automation prefs;
# these keep a fresh profile quiet and off the network (CI has none): no first-run pages,
# update, telemetry, safe-browsing or captive-portal requests.
_USER_JS = {
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.auto": False,
    "app.update.checkInstallTime": False,
    "extensions.update.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.region.update.enabled": False,
    "browser.search.update": False,
}
_LISTENING = re.compile(r"WebDriver BiDi listening on (ws://\S+)")
CONTROL = "\ue009"  # WebDriver's key value of the Control key
BACKSPACE = "\ue003"


class BidiError(AssertionError):
    """A BiDi command answered with an error (its code and message)."""


class Firefox:
    def __init__(
        self,
        process: subprocess.Popen[str],
        directory: str,
        socket: websocket.WebSocket,
        stderr_lines: queue.Queue[str],
        stderr_pump: threading.Thread,
    ) -> None:
        self.process = process
        self.directory = directory
        self.socket = socket
        self.stderr_lines = stderr_lines
        self.stderr_pump = stderr_pump
        self.context = ""
        self.console_errors: list[str] = []
        self._next_id = 0

    # ------------------------------------------------------------------ start and stop

    @classmethod
    def launch(cls, binary: str, width: int, height: int, start_timeout_s: float) -> Firefox:
        directory = tempfile.mkdtemp(prefix="gossipper-firefox-")
        profile = os.path.join(directory, "profile")
        os.mkdir(profile)
        with open(os.path.join(profile, "user.js"), "w", encoding="utf-8") as user_js:
            for name, value in _USER_JS.items():
                user_js.write(f"user_pref({json.dumps(name)}, {json.dumps(value)});\n")
        env = dict(os.environ, HOME=directory, MOZ_CRASHREPORTER_DISABLE="1")
        for name in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
            env[name] = os.path.join(directory, name.lower())
        process = subprocess.Popen(
            [
                binary, "--headless", "--no-remote", "--profile", profile,
                # Port 0: the system picks a free one, announced on standard error.
                "--remote-debugging-port=0", "about:blank",
            ],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
            # Its own process group: close() ends the content processes with it.
            start_new_session=True,
        )  # fmt: skip
        lines: queue.Queue[str] = queue.Queue()
        assert process.stderr is not None
        # Read standard error on a thread so that the browser never blocks on a full pipe;
        # the lines are kept for a failure's message.
        pump = threading.Thread(target=_pump, args=(process.stderr, lines), daemon=True)
        pump.start()
        seen: list[str] = []
        url = None
        deadline = time.monotonic() + start_timeout_s
        try:
            while url is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or process.poll() is not None:
                    pump.join(timeout=2)  # the last lines of a browser that exited
                    while not lines.empty():
                        seen.append(lines.get_nowait())
                    raise AssertionError(
                        f"Firefox did not open WebDriver BiDi (exit status {process.poll()}):"
                        f" {''.join(seen)[-2000:]}"
                    )
                try:
                    line = lines.get(timeout=min(remaining, 0.5))
                except queue.Empty:
                    continue
                seen.append(line)
                match = _LISTENING.search(line)
                url = match.group(1) if match else None
            # No Origin header: Firefox refuses origins not given in --remote-allow-origins.
            socket = websocket.create_connection(
                url + "/session", timeout=start_timeout_s, suppress_origin=True
            )
        except BaseException:
            _end_process_group(process)
            _close_stderr(process, pump)
            shutil.rmtree(directory, ignore_errors=True)
            raise
        browser = cls(process, directory, socket, lines, pump)
        try:
            browser.command("session.new", {"capabilities": {}})
            contexts = browser.command("browsingContext.getTree", {"maxDepth": 0})["contexts"]
            browser.context = contexts[0]["context"]
            browser.command(
                "browsingContext.setViewport",
                {"context": browser.context, "viewport": {"width": width, "height": height}},
            )
            browser.command("session.subscribe", {"events": ["log.entryAdded"]})
        except BaseException:
            browser.close()
            raise
        return browser

    def close(self) -> list[int]:
        """Ends the browser and its processes; the ids of processes that had to be killed
        after the browser's own exit (none when it shuts down cleanly). Removes the profile."""
        try:
            try:
                self.command("browser.close", {}, timeout_s=10)
            except (BidiError, OSError, websocket.WebSocketException):
                pass  # the browser is ended below anyway
            try:
                self.socket.close()
            except (OSError, websocket.WebSocketException):
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            return _end_process_group(self.process)
        finally:
            _close_stderr(self.process, self.stderr_pump)
            shutil.rmtree(self.directory, ignore_errors=True)

    # ------------------------------------------------------------------ protocol

    def command(self, method: str, params: dict[str, Any], timeout_s: float = 20) -> Any:
        """Sends one command and waits for its answer; events that arrive meanwhile are
        handled (console errors are kept)."""
        self._next_id += 1
        wanted = self._next_id
        self.socket.settimeout(timeout_s)
        self.socket.send(json.dumps({"id": wanted, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("type") == "event":
                self._event(message)
                continue
            if message.get("id") != wanted:
                continue
            if message.get("type") == "error":
                raise BidiError(f"{method}: {message.get('error')}: {message.get('message')}")
            return message["result"]

    def _event(self, message: dict[str, Any]) -> None:
        if message.get("method") == "log.entryAdded":
            entry = message["params"]
            if entry.get("level") == "error":
                self.console_errors.append(f"{entry.get('type')}: {entry.get('text')}")

    # ------------------------------------------------------------------ page

    def navigate(self, url: str) -> None:
        self.command(
            "browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"}
        )

    def call(self, function: str, *args: str | int | float | bool | None) -> Any:
        """Calls a JavaScript function in the page with the arguments, awaits a promise it
        returns, and gives back its value as Python data (an element as its BiDi reference)."""
        result = self.command(
            "script.callFunction",
            {
                "functionDeclaration": function,
                "arguments": [_serialize(a) for a in args],
                "target": {"context": self.context},
                "awaitPromise": True,
            },
        )
        if result["type"] == "exception":
            details = result["exceptionDetails"]
            raise BidiError(f"script error: {details.get('text')}")
        return _deserialize(result["result"])

    def element(self, selector: str) -> dict[str, Any]:
        """The first element matching a CSS selector, scrolled into view; fails when none."""
        node = self.call(
            "(s) => { const e = document.querySelector(s);"
            " if (e) e.scrollIntoView({block: 'center'}); return e; }",
            selector,
        )
        if node is None:
            raise AssertionError(f"no element matches {selector!r}")
        assert isinstance(node, dict) and "sharedId" in node, node
        return node

    def click(self, selector: str) -> None:
        """A left click in the middle of the element, as a user's pointer does it."""
        origin = {"type": "element", "element": {"sharedId": self.element(selector)["sharedId"]}}
        self._actions(
            [
                {
                    "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                    "actions": [
                        {"type": "pointerMove", "x": 0, "y": 0, "origin": origin},
                        {"type": "pointerDown", "button": 0},
                        {"type": "pointerUp", "button": 0},
                    ],
                }
            ]
        )  # fmt: skip

    def type_text(self, selector: str, text: str, clear: bool = False) -> None:
        """Clicks the field, optionally clears it (Control+A, Backspace), then types the text
        key by key."""
        self.click(selector)
        keys: list[dict[str, str]] = []
        if clear:
            keys += [
                {"type": "keyDown", "value": CONTROL}, {"type": "keyDown", "value": "a"},
                {"type": "keyUp", "value": "a"}, {"type": "keyUp", "value": CONTROL},
                {"type": "keyDown", "value": BACKSPACE}, {"type": "keyUp", "value": BACKSPACE},
            ]  # fmt: skip
        for character in text:
            keys += [{"type": "keyDown", "value": character}, {"type": "keyUp", "value": character}]
        self._actions([{"type": "key", "id": "keyboard", "actions": keys}])

    def _actions(self, sources: list[dict[str, Any]]) -> None:
        self.command("input.performActions", {"context": self.context, "actions": sources})
        self.command("input.releaseActions", {"context": self.context})

    def screenshot_png(self) -> bytes:
        """The viewport as PNG."""
        data = self.command("browsingContext.captureScreenshot", {"context": self.context})
        return base64.b64decode(data["data"])


def _pump(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def _close_stderr(process: subprocess.Popen[str], pump: threading.Thread) -> None:
    # The pump ends at end of file, once every process of the browser has closed the pipe.
    pump.join(timeout=5)
    if process.stderr is not None and not pump.is_alive():
        process.stderr.close()


def _end_process_group(process: subprocess.Popen[str]) -> list[int]:
    """Ends the browser's process group (TERM, then KILL); the ids of the processes that were
    still there for it to end."""
    leftovers = _group_members(process.pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _group_members(process.pid) and process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _group_members(process.pid):
            time.sleep(0.1)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    remaining = _group_members(process.pid)
    assert not remaining, f"Firefox processes survived SIGKILL: {remaining}"
    return leftovers


def _group_members(group: int) -> list[int]:
    """The live (not zombie) processes of a process group, from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after ")".
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(entry))
    return members


def _serialize(value: str | int | float | bool | None) -> dict[str, Any]:
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean", "value": value}
    if isinstance(value, str):
        return {"type": "string", "value": value}
    return {"type": "number", "value": value}


def _deserialize(remote: dict[str, Any]) -> Any:
    """A BiDi remote value as Python data: primitives, arrays, plain objects; a DOM node is
    its remote value (with its sharedId)."""
    kind = remote["type"]
    if kind in ("undefined", "null"):
        return None
    if kind in ("string", "boolean"):
        return remote["value"]
    if kind == "number":
        value = remote["value"]
        return float("nan") if value == "NaN" else value
    if kind == "array":
        return [_deserialize(item) for item in remote.get("value", [])]
    if kind == "object":
        return {key: _deserialize(item) for key, item in remote.get("value", [])}
    if kind == "node":
        return remote
    raise AssertionError(f"unexpected remote value {remote}")
