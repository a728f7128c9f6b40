"""Making a used EE what a new one is, to the next step (a recycled cold start).

A new EE holds, before its steps' code is laid out: the runtime (pid 2, under
docker-init, pid 1) and nothing else, an empty /tmp, no SysV IPC object, no listening
socket. ``sweep`` brings a used EE back to exactly that, and says what it could not:
then pdee destroys the container and starts a new one instead. The supervisor then
loads the workflow again, as at a start (code, packages, fresh step processes).

What a step could still tell, and pdee does not hide: process ids and tmpfs inode
numbers go on from where the earlier executions left them, and the container's own
age (pid 1's start time, the cgroup's high-water memory mark).
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time

PACKAGES = "__pdg__/dist/python"  # where the runtime unpacks the packages, under /tmp
SYSV_IPC = ("/proc/sysvipc/shm", "/proc/sysvipc/msg", "/proc/sysvipc/sem")


def _others(proc: str = "/proc") -> list[int]:
    """Every process but docker-init (pid 1) and this one."""
    me = os.getpid()
    return [int(p) for p in os.listdir(proc) if p.isdigit() and int(p) not in (1, me)]


def kill_the_rest(timeout_s: float = 2.0) -> str | None:
    """Kill every other process of the EE (the steps' and all they started, in any
    session); None once none is left, else what outlived the wait."""
    try:
        os.kill(-1, signal.SIGKILL)  # all this process may signal but itself and pid 1
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:  # its own children: reap them
                pass
        except ChildProcessError:
            pass
        left = _others()
        if not left:
            return None
        if time.monotonic() >= deadline:
            return f"processes {left[:5]} outlived SIGKILL"
        time.sleep(0.001)


def _unlock(function: object, path: str, _exc: object) -> None:
    """rmtree's retry for a folder a step locked (chmod 0): open it, try once more."""
    parent = os.path.dirname(path)
    for folder in (parent, path):
        try:
            if os.path.isdir(folder) and not os.path.islink(folder):
                os.chmod(folder, stat.S_IRWXU)
        except OSError:
            pass
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


def _rmtree(path: str) -> None:
    """rmtree with ``_unlock`` as its error hook (onexc from Python 3.12, onerror before)."""
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=_unlock)
    else:
        shutil.rmtree(path, onerror=_unlock)


def empty(root: str = "/tmp", bulk: str = PACKAGES) -> str | None:
    """Remove everything in ``root``; None once it is empty, else what is left.

    The packages' folder (``bulk``: 1,500 files for numpy) goes by ``rm -rf``, in C, at
    about three times Python's pace; the rest by Python, which also opens what a step
    locked (chmod 0) to remove it."""
    if os.path.isdir(os.path.join(root, bulk)):
        subprocess.run(
            ["rm", "-rf", "--", os.path.join(root, bulk)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    for entry in os.scandir(root):
        if entry.is_dir(follow_symlinks=False):
            _rmtree(entry.path)
        else:
            os.unlink(entry.path)
    left = os.listdir(root)
    return f"{root} still holds {sorted(left)[:3]}" if left else None


def ipc_objects() -> str | None:
    """None when the EE holds no SysV IPC object (shared memory, queue, semaphores),
    which would outlive the processes that made them."""
    found = 0
    for table in SYSV_IPC:
        try:
            with open(table) as f:
                found += max(len(f.readlines()) - 1, 0)
        except OSError:
            continue
    return f"{found} SysV IPC object(s) outlive the steps" if found else None


def sweep(tmp: str = "/tmp") -> str | None:
    """Everything above, in order; None when the EE is as new, else why not."""
    return kill_the_rest() or empty(tmp) or ipc_objects()
