"""Start, restart and stop the sandbox server as a child process, the way a user would run it.

    with SandboxProcess.start(state_file, admin=True) as sandbox:
        print(sandbox.base_url, sandbox.api_key)

The sandbox prints ``Base URL: …`` and ``API key: …`` on start; this reads both from its stdout.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

INCLUDE = Path(__file__).resolve().parents[1]


class SandboxStartError(RuntimeError):
    """The sandbox process exited or stayed silent instead of announcing its URL."""


@dataclass
class SandboxProcess:
    """A running sandbox; ``stop()`` (or leaving the ``with`` block) always ends the process."""

    args: list[str]
    env: dict[str, str]
    log_path: Path | None
    base_url: str = ""
    api_key: str = ""
    process: subprocess.Popen | None = None
    _lines: queue.Queue = field(default_factory=queue.Queue)

    @classmethod
    def start(cls, state_file: Path | str, *, admin: bool = True, api_key: str | None = None,
              port: int = 0, extra_args: list[str] | None = None, log_path: Path | str | None = None,
              timeout: float = 30.0) -> SandboxProcess:
        args = [sys.executable, "-m", "codat_sandbox", "serve", "--host", "127.0.0.1", "--port", str(port),
                "--state", str(state_file)]
        if admin:
            args.append("--admin")
        args += list(extra_args or [])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(INCLUDE), env.get("PYTHONPATH")]))
        if api_key:
            env["CODAT_SANDBOX_API_KEY"] = api_key
        sandbox = cls(args=args, env=env, log_path=Path(log_path) if log_path else None)
        sandbox._launch(timeout)
        return sandbox

    def _launch(self, timeout: float) -> None:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(self.args, env=self.env, stdout=subprocess.PIPE, stderr=log,
                                        text=True, start_new_session=True)
        threading.Thread(target=self._pump, args=(self.process.stdout,), daemon=True).start()
        deadline = time.monotonic() + timeout
        base_url = api_key = ""
        while time.monotonic() < deadline and not (base_url and api_key):
            try:
                line = self._lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    raise SandboxStartError(f"the sandbox exited with code {self.process.returncode}") from None
                continue
            if line.startswith("Base URL:"):
                base_url = line.split(":", 1)[1].strip()
            elif line.startswith("API key:"):
                api_key = line.split(":", 1)[1].strip()
        if not (base_url and api_key):
            self.stop()
            raise SandboxStartError(f"the sandbox did not announce its URL within {timeout:.0f}s")
        self.base_url, self.api_key = base_url, api_key
        # Later restarts keep the same key and port so clients keep working.
        self.env["CODAT_SANDBOX_API_KEY"] = api_key
        if "--port" in self.args:
            self.args[self.args.index("--port") + 1] = base_url.rsplit(":", 1)[1]

    def _pump(self, stream) -> None:
        for line in stream:
            self._lines.put(line.strip())
            if self.log_path:
                with open(self.log_path, "a") as log:
                    log.write(line)

    def restart(self, timeout: float = 30.0) -> None:
        """Stop and start again on the same state file, port and key (state survives)."""
        self.stop()
        self._lines = queue.Queue()
        self._launch(timeout)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:  # never show the key
        return f"SandboxProcess(base_url={self.base_url!r}, running={self.running})"
