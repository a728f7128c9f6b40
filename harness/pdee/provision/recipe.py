"""What the image builds share: the recipes shipped with pdee, its cache, in-memory tars.

The recipes live in the source tree's top-level ``images/`` (one folder per image: ``ee/``
the EE image, ``packages/`` an EE image with a workflow's packages, ``base/`` the offline
base's Debian packages); the wheel ships that folder as ``pdee.images``, so an installed
pdee builds its images from any directory. Both the image build
(``backends.image``) and package resolution (``packages``) use this module, and it
imports nothing of pdee.
"""

from __future__ import annotations

import errno
import fcntl
import io
import os
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path


def recipe_file(path: str) -> bytes:
    """The bytes of ``path`` in the recipes, e.g. ``"ee/Dockerfile"``."""
    folder, _, name = path.partition("/")
    return resources.files("pdee.images").joinpath(folder).joinpath(name).read_bytes()


def recipe_lines(path: str) -> tuple[str, ...]:
    """The lines of a recipe's list file, without comments and blank lines."""
    lines = recipe_file(path).decode().splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def cache_dir() -> Path:
    """pdee's cache on the host: ``$XDG_CACHE_HOME/pdee``, else ``~/.cache/pdee``."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "pdee"


@contextmanager
def cache_lock(name: str) -> Iterator[None]:
    """Hold the host-wide lock ``name`` in pdee's cache while the block runs, so that
    concurrent pdee runs fill one cache entry (or build one image) once: the first
    does, the others wait for it and then find it done. A cache that cannot hold the
    lock file (read-only, full) runs the block unlocked: what the block writes there
    fails with the cause (``cache_problem``).
    """
    try:
        locks = cache_dir() / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        lock = open(locks / f"{name}.lock", "a")  # noqa: SIM115 -- held across the yield
    except OSError:
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # closing the file releases the lock, also on an exception


def cache_problem(exc: OSError) -> str | None:
    """What a failed write to pdee's cache means for the user, if the cache is the cause
    (read-only, not ours, or full); None for other errors."""
    where = cache_dir()
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (
            f"pdee's cache {where} is not writable ({exc.strerror}); set XDG_CACHE_HOME to a "
            f"writable directory"
        )
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the filesystem of pdee's cache {where} is full; free space or set XDG_CACHE_HOME"
    return None


def tar_of(files: dict[str, bytes]) -> io.BytesIO:
    """A build context in memory: a tar of ``files`` (path in the context: content)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer
