"""A small WebDriver BiDi client for Firefox (websocket-client, no geckodriver, no Selenium, no Playwright).

Firefox has WebDriver BiDi built in: `firefox --remote-debugging-port=0` listens on ws://127.0.0.1:<port>/session
(the port is printed on stderr as "WebDriver BiDi listening on ws://..."). One connection is one session; the
client below sends commands with increasing ids and a reader thread routes the answers and the events.

The server refuses a WebSocket handshake that carries an Origin header (its DNS-rebinding guard), so the
connection is made with suppress_origin=True.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import websocket

LISTENING = re.compile(r"WebDriver BiDi listening on (ws://\S+)")


class BidiError(RuntimeError):
    def __init__(self, method: str, answer: dict[str, Any]) -> None:
        self.error = answer.get("error")
        self.message = answer.get("message", "")
        super().__init__(f"{method}: {self.error}: {self.message}")


class Bidi:
    """One WebDriver BiDi session. call() blocks for the answer; events go to `events` and to subscribers."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self._ws = websocket.create_connection(url, timeout=timeout, suppress_origin=True)
        self._ws.settimeout(None)
        self._lock = threading.Lock()
        self._next_id = 0
        self._pending: dict[int, queue.Queue] = {}
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self.events: list[dict[str, Any]] = []
        self.closed = False
        self._reader = threading.Thread(target=self._read, daemon=True, name="bidi-reader")
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                raw = self._ws.recv()
            except Exception:
                break
            if not raw:
                break
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if message.get("type") == "event":
                self.events.append(message)
                for listener in list(self._listeners):
                    try:
                        listener(message)
                    except Exception:  # a listener's bug must not stop the reader
                        pass
                continue
            waiter = self._pending.pop(message.get("id"), None)
            if waiter is not None:
                waiter.put(message)
        self.closed = True
        for waiter in list(self._pending.values()):
            waiter.put({"type": "error", "error": "connection closed", "message": "the BiDi connection closed"})

    def on_event(self, listener: Callable[[dict[str, Any]], None]) -> None:
        self._listeners.append(listener)

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0) -> dict[str, Any]:
        waiter: queue.Queue = queue.Queue(maxsize=1)
        with self._lock:
            self._next_id += 1
            command_id = self._next_id
            self._pending[command_id] = waiter
            self._ws.send(json.dumps({"id": command_id, "method": method, "params": params or {}}))
        try:
            answer = waiter.get(timeout=timeout)
        except queue.Empty:
            self._pending.pop(command_id, None)
            raise TimeoutError(f"{method}: no answer within {timeout}s") from None
        if answer.get("type") == "error":
            raise BidiError(method, answer)
        return answer.get("result", {})

    def close(self) -> None:
        try:
            self._ws.close()
        except Exception:
            pass

    # -- conveniences -------------------------------------------------------------------------------------

    def evaluate(self, context: str, expression: str, *, await_promise: bool = True,
                 user_activation: bool = False, sandbox: str | None = None) -> Any:
        """Evaluate in a browsing context; return the value as plain Python (raise on a page exception)."""
        target: dict[str, Any] = {"context": context}
        if sandbox:
            target["sandbox"] = sandbox
        result = self.call("script.evaluate", {"expression": expression, "target": target,
                                               "awaitPromise": await_promise, "userActivation": user_activation,
                                               "resultOwnership": "none"})
        return _unwrap_result(expression, result)

    def call_function(self, context: str, declaration: str, *args: Any, await_promise: bool = True,
                      user_activation: bool = False) -> Any:
        """Call `declaration` (a JS function's source) with JSON-able args in a browsing context."""
        result = self.call("script.callFunction", {
            "functionDeclaration": declaration, "target": {"context": context}, "awaitPromise": await_promise,
            "arguments": [serialize(a) for a in args], "userActivation": user_activation,
            "resultOwnership": "none"})
        return _unwrap_result(declaration, result)

    def contexts(self) -> list[dict[str, Any]]:
        return self.call("browsingContext.getTree", {"maxDepth": 0})["contexts"]


def _unwrap_result(source: str, result: dict[str, Any]) -> Any:
    if result.get("type") == "exception":
        details = result.get("exceptionDetails", {})
        text = details.get("text") or json.dumps(details.get("exception"))
        raise RuntimeError(f"JavaScript exception: {text}\n  in: {source[:200]}")
    return deserialize(result.get("result", {}))


def serialize(value: Any) -> dict[str, Any]:
    """A Python value as a BiDi LocalValue."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean", "value": value}
    if isinstance(value, int | float):
        return {"type": "number", "value": value}
    if isinstance(value, str):
        return {"type": "string", "value": value}
    if isinstance(value, list | tuple):
        return {"type": "array", "value": [serialize(v) for v in value]}
    if isinstance(value, dict):
        return {"type": "object", "value": [[str(k), serialize(v)] for k, v in value.items()]}
    raise TypeError(f"cannot send {type(value).__name__} over BiDi")


def deserialize(remote: dict[str, Any]) -> Any:
    """A BiDi RemoteValue as plain Python (nodes, functions and the like as their type name)."""
    kind = remote.get("type")
    if kind in ("undefined", "null"):
        return None
    if kind in ("string", "boolean"):
        return remote["value"]
    if kind == "number":
        value = remote["value"]
        if isinstance(value, str):  # NaN, -0, Infinity, -Infinity
            return float(value.replace("Infinity", "inf")) if value != "-0" else 0.0
        return value
    if kind == "bigint":
        return int(remote["value"])
    if kind in ("array", "set"):
        return [deserialize(v) for v in remote.get("value", [])]
    if kind in ("object", "map"):
        out = {}
        for key, value in remote.get("value", []):
            out[key if isinstance(key, str) else json.dumps(deserialize(key))] = deserialize(value)
        return out
    if kind == "date":
        return remote["value"]
    return f"<{kind}>"


class Firefox:
    """A headless Firefox this test started (by pid; stop() ends it and its content processes)."""

    def __init__(self, binary: str, profile: Path, prefs: dict[str, Any], log_path: Path,
                 args: tuple[str, ...] = (), timeout: float = 40.0) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "user.js").write_text("".join(f'user_pref("{k}", {json.dumps(v)});\n' for k, v in prefs.items()))
        self.profile = profile
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        env = {**os.environ, "MOZ_HEADLESS": "1", "MOZ_CRASHREPORTER_DISABLE": "1", "HOME": str(profile.parent)}
        env.pop("DISPLAY", None)
        # Its own process group: stop() signals the group, so content processes go with the parent.
        self.process = subprocess.Popen(
            [binary, "--headless", "--no-remote", "--profile", str(profile), "--remote-debugging-port=0", *args,
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.bidi_url = self._wait_for_listening(timeout) + "/session"

    def _wait_for_listening(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = LISTENING.search(self.log_path.read_text(errors="replace"))
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                raise AssertionError(f"Firefox exited ({self.process.returncode}) before WebDriver BiDi listened:\n"
                                     f"{self.log_tail()}")
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"Firefox's WebDriver BiDi did not listen within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """End Firefox: wait for a shutdown already asked for (BiDi browser.close), then SIGTERM to the parent
        (which closes and reaps its content processes), then SIGKILL to whatever is left of its process group."""
        for sig in (None, signal.SIGTERM):
            if self.process.poll() is not None:
                break
            if sig is not None:
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()

    def leftover_processes(self) -> list[int]:
        """Live processes still in this Firefox's process group (zombies do not count)."""
        left = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == self.process.pid and fields[0] != "Z":  # fields: state, ppid, pgrp, ...
                left.append(int(stat.parent.name))
        return left
