"""What the image builds share: the recipes shipped with pdee, its cache, in-memory tars.

The recipes live in the source tree's top-level ``images/`` (one folder per image: ``ee/``
the EE image, ``packages/`` an EE image with a workflow's packages, ``base/`` the offline
base's Debian packages); the wheel ships that folder as ``pdee.images``, so an installed
pdee builds its images from any directory. Both the image build
(``backends.image``) and package resolution (``packages``) use this module, and it
imports nothing of pdee.
"""

from __future__ import annotations

import io
import os
import tarfile
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
