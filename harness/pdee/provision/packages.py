"""A workflow's packages, fetched on the host and installed as the platform installs
them: wheels for the EE's Python from PyPI (or pdee's cache), and an image with them.

What a workflow needs is found by ``pdee.plan.requirements``, as the platform finds it.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import platform
import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..backends import ImageInfo, PackageImage
from ..errors import PackageError, PdeeError, UsageError
from .recipe import cache_dir, cache_lock, cache_problem, recipe_file, tar_of


def canonical(name: str) -> str:
    """A package name as PyPI compares them (PEP 503): ``PyYAML`` is ``pyyaml``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Requirement:
    """One package to install, and why."""

    name: str  # as PyPI spells it, e.g. "PyYAML"
    version: str | None  # pinned with add-package, else None: the latest
    steps: tuple[str, ...] = field(default=())  # the steps that need it

    @property
    def spec(self) -> str:
        """What pip is asked for: ``PyYAML==6.0.2`` or ``PyYAML``."""
        return f"{self.name}=={self.version}" if self.version else self.name

    def __str__(self) -> str:
        return self.spec


# -- fetching on the host ------------------------------------------------------------

# The EE's glibc (Debian bookworm's, and python:3.12-slim's at least) runs wheels
# built for manylinux glibc 2.5 up to 2.36; pip must be told each tag.
EE_GLIBC_MINOR = 36


def wheel_platforms(machine: str) -> list[str]:
    """The ``--platform`` tags of wheels that run in an EE on ``machine`` (``x86_64``)."""
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(EE_GLIBC_MINOR, 4, -1)]
    return [*tags, f"manylinux2014_{machine}", f"manylinux2010_{machine}", f"manylinux1_{machine}"]


@dataclass(frozen=True)
class Wheel:
    """One wheel of a resolved package set (dependencies included)."""

    name: str
    version: str
    file: str
    bytes: int  # installed, uncompressed: what it takes in /tmp (without .pyc files)
    file_bytes: int | None = None  # the wheel file's own size (None: cached by pdee 0.2)

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class PackageSet:
    """A workflow's packages, resolved for the EE's Python and fetched into the cache."""

    requirements: list[Requirement]
    wheels: list[Wheel]  # every package to install, dependencies included
    directory: Path | None  # where the wheels are; None when there are none
    key: str  # names the set: the same requirements for the same EE give the same key

    @property
    def installed_bytes(self) -> int:
        return sum(wheel.bytes for wheel in self.wheels)


def _wheel(path: Path) -> Wheel:
    name, version = path.name.split("-")[:2]
    with zipfile.ZipFile(path) as archive:
        size = sum(info.file_size for info in archive.infolist())
    return Wheel(name, version, path.name, size, path.stat().st_size)


def _damaged(path: Path, wheel: Wheel) -> bool:
    """Whether a cached wheel is missing, cut short or not a zip (cheap: its size and
    the zip's end record, not its contents)."""
    try:
        size = path.stat().st_size
    except OSError:
        return True
    if wheel.file_bytes is not None and size != wheel.file_bytes:
        return True
    return not zipfile.is_zipfile(path)


def _cached(directory: Path) -> tuple[list[Wheel] | None, str | None]:
    """The wheels of the set cached in ``directory``, or None and, if the cache holds
    a damaged one, its name."""
    try:
        wheels = [Wheel(**wheel) for wheel in json.loads((directory / "resolved.json").read_text())]
    except (OSError, ValueError, TypeError):
        return None, None
    for wheel in wheels:
        if _damaged(directory / wheel.file, wheel):
            return None, wheel.file
    return wheels, None


def _set_key(requirements: list[Requirement], python: str, machine: str) -> str:
    specs = sorted(
        canonical(r.name) + (f"=={r.version}" if r.version else "") for r in requirements
    )
    text = json.dumps([specs, ".".join(python.split(".")[:2]), machine])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _no_wheel_of(stderr: str) -> str | None:
    """The requirement pip found no wheel of, if that is why it failed."""
    missing = re.search(r"No matching distribution found for (\S+)", stderr)
    return missing.group(1) if missing else None


def build_wheel(spec: str, directory: Path, python: str, machine: str) -> str | None:
    """Build a wheel of ``spec`` from its sources on this host into ``directory``.

    Returns:
        None if it was built and can run in the EE; else why not.
    """
    directory.mkdir(parents=True, exist_ok=True)
    before = set(directory.glob("*.whl"))
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check"]
    command += ["--no-deps", "--wheel-dir", str(directory), spec]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return "it has no sources that build here either"
    for wheel in set(directory.glob("*.whl")) - before:
        *_, py_tag, abi, platform_tag = wheel.stem.split("-")
        if platform_tag == "any" and abi == "none":
            continue  # pure Python: runs anywhere
        host = f"cp{sys.version_info.major}{sys.version_info.minor}"
        ee = "cp" + "".join(python.split(".")[:2])
        if py_tag != ee or platform_tag != f"linux_{machine}" or host != ee:
            wheel.unlink()
            return (
                f"it has compiled code, and this host's Python ({host}) cannot build it "
                f"for the EE's ({ee})"
            )
    return None


def _unavailable(
    stderr: str, requirements: list[Requirement], python: str, unbuildable: str | None = None
) -> PdeeError:
    """What pip's failure means for the user."""
    wanted = _no_wheel_of(stderr)
    if wanted is not None:
        by = next(
            (
                r
                for r in requirements
                if canonical(r.name) == canonical(re.split("[=<>]", wanted)[0])
            ),
            None,
        )
        hint = (
            "pin a version that exists"
            if by is not None and by.version
            else "if the import's package has another name, add `# pipedream add-package NAME`"
        )
        needed = f" (needed by {', '.join(by.steps)})" if by is not None and by.steps else ""
        built = f", and {unbuildable}" if unbuildable else ""
        return UsageError(
            f"no wheel of {wanted}{needed} on PyPI for the EE's Python {python} on Linux"
            f"{built}; {hint}"
        )
    said = (stderr.strip().splitlines() or ["no output"])[-1]
    return PackageError(
        f"pip could not fetch the packages ({said}); check the host's network, or run with "
        f"--offline once they are cached"
    )


def fetch(
    requirements: list[Requirement],
    python: str,
    *,
    offline: bool = False,
    machine: str | None = None,
    progress: Callable[[str], None] = lambda _line: None,
) -> PackageSet:
    """Resolve and download the workflow's packages for the EE, once; later calls read
    the cache (``$XDG_CACHE_HOME/pdee/packages``) and need no network.

    Args:
        requirements: what the steps need (``requirements``).
        python: the EE's Python version.
        offline: never fetch: what is not cached is an error.
        machine: the EE's architecture (default: this machine's).
        progress: called with a line when a download starts.

    Raises:
        UsageError: a package or version that has no wheel for the EE.
        PackageError: nothing cached with ``offline``, or pip could not reach PyPI.
    """
    machine = machine or platform.machine()
    key = _set_key(requirements, python, machine)
    if not requirements:
        return PackageSet([], [], None, key)
    directory = cache_dir() / "packages" / key
    wheels, damaged = _cached(directory)
    if wheels is not None:
        return PackageSet(requirements, wheels, directory, key)
    if offline:
        if damaged is not None:
            raise PackageError(
                f"--offline: the cached wheel {damaged} is damaged; run once without "
                f"--offline to fetch it again"
            )
        raise PackageError(
            f"--offline: {', '.join(r.spec for r in requirements)} not in pdee's cache; "
            f"run once without --offline to fetch them"
        )
    try:
        with cache_lock(f"packages-{key}"):  # one run fetches; the others find it done
            wheels, damaged = _cached(directory)
            if wheels is None:
                if damaged is not None:
                    progress(f"the cached wheel {damaged} is damaged: fetching the set again")
                wheels = _download(requirements, python, machine, directory, progress)
    except OSError as exc:
        problem = cache_problem(exc)
        if problem is None:
            raise
        raise UsageError(problem) from None
    return PackageSet(requirements, wheels, directory, key)


def _download(
    requirements: list[Requirement],
    python: str,
    machine: str,
    directory: Path,
    progress: Callable[[str], None],
) -> list[Wheel]:
    """Resolve and download the set into ``directory`` (under the set's lock); its wheels.

    Raises:
        UsageError, PackageError: as ``fetch``.
        OSError: the cache could not be written.
    """
    progress(
        f"fetching {', '.join(r.spec for r in requirements)} for Python {python} (pip download)"
    )
    partial = directory.with_name(f"{directory.name}.part-{uuid.uuid4().hex[:8]}")
    partial.mkdir(parents=True)
    try:
        major, minor = python.split(".")[:2]
        command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check"]
        command += ["--quiet", "--only-binary=:all:", "--dest", str(partial)]
        command += ["--python-version", f"{major}.{minor}", "--implementation", "cp"]
        command += ["--abi", f"cp{major}{minor}"]
        # A wheel built here for the EE (below) has this machine's plain Linux tag.
        for tag in [*wheel_platforms(machine), f"linux_{machine}"]:
            command += ["--platform", tag]
        built_dir = partial / "built"
        command += ["--find-links", str(built_dir)]
        command += [r.spec for r in requirements]
        built: set[str] = set()
        while (done := subprocess.run(command, capture_output=True, text=True)).returncode:
            if "No space left on device" in done.stderr:
                raise OSError(errno.ENOSPC, "No space left on device")
            # A package PyPI has no wheel of: build one here, from its sources, if it
            # can run in the EE (pure Python, or this host's Python and Linux).
            wanted = _no_wheel_of(done.stderr)
            if wanted is None or wanted in built:
                raise _unavailable(done.stderr, requirements, python)
            built.add(wanted)
            progress(f"building a wheel of {wanted} on this host: PyPI has none for the EE")
            reason = build_wheel(wanted, built_dir, python, machine)
            if reason is not None:
                raise _unavailable(done.stderr, requirements, python, reason)
        shutil.rmtree(built_dir, ignore_errors=True)  # what it built was copied to the set
        wheels = sorted((_wheel(path) for path in partial.glob("*.whl")), key=lambda w: w.name)
        (partial / "resolved.json").write_text(json.dumps([vars(w) for w in wheels], indent=1))
        shutil.rmtree(directory, ignore_errors=True)  # an incomplete or damaged one, if any
        partial.replace(directory)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return wheels


# -- the image an EE with these packages starts from ----------------------------------


def _dockerfile() -> bytes:
    return recipe_file("packages/Dockerfile")


def image_tag(ee_image_id: str, packages: PackageSet) -> str:
    """The tag of the EE image ``ee_image_id`` with ``packages`` installed: a hash of both."""
    digest = hashlib.sha256(f"{ee_image_id}/{packages.key}/".encode() + _dockerfile())
    return f"pdee-packages:{digest.hexdigest()[:16]}"


def package_image(ee_image: ImageInfo, packages: PackageSet) -> PackageImage:
    """What a backend must make for EEs of ``ee_image`` with ``packages`` installed."""
    return PackageImage(
        tag=image_tag(ee_image.id, packages),
        base=ee_image.tag,
        specs=" ".join(wheel.spec for wheel in packages.wheels),
        context=lambda: build_context(packages),
    )


def build_context(packages: PackageSet) -> io.BytesIO:
    """The build context of that image: its Dockerfile, the wheels, their exact versions."""
    assert packages.directory is not None
    pins = "".join(f"{wheel.spec}\n" for wheel in packages.wheels).encode()
    files = {"Dockerfile": _dockerfile(), "wheels/requirements.txt": pins}
    for wheel in packages.wheels:
        files[f"wheels/{wheel.file}"] = (packages.directory / wheel.file).read_bytes()
    return tar_of(files)
