"""Child processes of the local stack: free ports, and stopping a process group with everything it spawned."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading

import psutil


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_group(process: subprocess.Popen, grace: float = 30.0) -> bool:
    """SIGTERM the process group, SIGKILL what is left after ``grace`` seconds; True if Ctrl-C cut the wait.

    Task processes may start their own session, so the descendants seen before the SIGTERM are killed
    one by one as well.
    """
    try:
        family = [process.pid] + [child.pid for child in psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = [process.pid]
    interrupted = False
    if process.poll() is None:
        signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
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


def stop_groups_together(processes: list[subprocess.Popen], grace: float = 30.0) -> bool:
    """:func:`stop_group` for several processes at once; True if Ctrl-C cut a wait.

    For processes that do not depend on each other: their shutdowns (seconds each) overlap instead of
    adding up.
    """
    if len(processes) < 2:
        return any(stop_group(process, grace) for process in processes)
    results: dict[int, bool] = {}
    threads = [threading.Thread(target=lambda p=process: results.update({p.pid: stop_group(p, grace)}))
               for process in processes]
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


def signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
