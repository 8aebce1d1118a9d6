"""Child processes of the local stack: free ports, and stopping a process group with everything it spawned."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable

import psutil


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_group(process: subprocess.Popen, grace: float = 30.0,
               finished: Callable[[], bool] | None = None) -> bool:
    """SIGTERM the process group, SIGKILL what is left after ``grace`` seconds; True if Ctrl-C cut the wait.

    Task processes may start their own session, so the descendants seen before the SIGTERM are killed
    one by one as well. ``finished``, when given, says the process has done all its shutting down and
    only the interpreter's exit is left: the group is killed then instead of waited for.
    """
    try:
        family = [process.pid] + [child.pid for child in psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = [process.pid]
    interrupted = False
    if process.poll() is None:
        signal_group(process.pid, signal.SIGTERM)
        try:
            _wait(process, grace, finished)
        except KeyboardInterrupt:
            interrupted = True
    signal_group(process.pid, signal.SIGKILL)
    for pid in family:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    return interrupted


def _wait(process: subprocess.Popen, grace: float, finished: Callable[[], bool] | None) -> None:
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            process.wait(timeout=0.1 if finished else grace)
            return
        except subprocess.TimeoutExpired:
            if finished is not None and finished():
                return


def stop_groups_together(processes: list[subprocess.Popen], grace: float = 30.0,
                         finished: dict[int, Callable[[], bool]] | None = None) -> bool:
    """:func:`stop_group` for several processes at once; True if Ctrl-C cut a wait.

    For processes that do not depend on each other: their shutdowns (seconds each) overlap instead of
    adding up. ``finished`` maps a process id to its ``finished`` check (see :func:`stop_group`).
    """
    finished = finished or {}
    if len(processes) < 2:
        return any([stop_group(process, grace, finished.get(process.pid)) for process in processes])
    results: dict[int, bool] = {}
    threads = [threading.Thread(target=lambda p=process: results.update(
        {p.pid: stop_group(p, grace, finished.get(p.pid))})) for process in processes]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except KeyboardInterrupt:
        # The stopping threads carry on (each SIGKILLs after its grace); cut the grace for the caller.
        for process in processes:
            signal_group(process.pid, signal.SIGKILL)
        for thread in threads:
            thread.join()
        return True
    return any(results.values())


def log_tail(path, size: int = 65536) -> str:
    """The last ``size`` bytes of a log ('' before it exists)."""
    try:
        with open(path, "rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - size))
            return log.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
