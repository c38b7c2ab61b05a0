"""Benchmark server processes, started with a READY handshake and always reaped."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time


class ServerProcess:
    """``python -m <module> ARGS...`` (or ``python <script.py> ARGS...``) that prints ``READY <endpoint>``
    and exits when its stdin closes."""

    def __init__(self, module: str, *args: str, ready_timeout: float = 60.0) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        target = [module] if module.endswith(".py") else ["-m", module]
        self.proc = subprocess.Popen([sys.executable, *target, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.endpoint = self._wait_ready(ready_timeout)

    def _wait_ready(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                    break
                line = self.proc.stdout.readline()
                if not line:
                    break
                if line.startswith("READY "):
                    return line.split(" ", 1)[1].strip()
                self.output = getattr(self, "output", "") + line
        finally:
            sel.close()
        self.close()
        err = self.proc.stderr.read() if self.proc.stderr else ""
        raise RuntimeError(f"benchmark server {self.proc.args} did not start: {err[-2000:]}")

    def read_stdout(self) -> str:
        """The rest of stdout (call after closing stdin)."""
        assert self.proc.stdout is not None
        return self.proc.stdout.read()

    def close(self, timeout: float = 10.0) -> None:
        """Close stdin (the stop signal), then wait, then kill."""
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
