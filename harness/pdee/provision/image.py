"""The EE image, built from the recipe shipped with pdee (``images/ee``): no source tree needed.

``pdee image build`` (or ``pdee.image.build``) does four things, all without a
registry and with no network inside the build:

1. **Base**: ``--base`` if given (it must be here already), else ``python:3.12-slim``
   if it is here, else ``pdee-base:<codename>``, bootstrapped once from this
   machine's own apt sources with ``mmdebstrap`` (Debian's Python, not 3.12; every
   report says so).
2. **Wheels** of ``images/ee/requirements.txt`` (pure Python), and the binary wheels of
   ``images/ee/runtime-requirements.txt`` (the runtime's own: time-machine, the steps'
   virtual clock) for the EE's Python and machine, downloaded on the host (``pip
   download``), where PyPI is reachable, into pdee's cache (``$XDG_CACHE_HOME/pdee``), once.
3. **Build** from an in-memory context: ``images/ee/Dockerfile``, the wheels and
   the runtime (``pdee.runtime``, installed as ``pdee_runtime``; its own wheels at
   ``/opt/pdee/vendor``, on no step's ``sys.path``).
4. **Check**: an EE of the new image starts and says hello.

The image is labelled with the recipe's fingerprint; a run refuses an image built
from another recipe. An image already built from this recipe and base is kept.
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO, Protocol

from ..backends import Backend, EESpec, ImageInfo, build_command
from ..errors import EEError, ImageError, UsageError
from .packages import wheel_platforms
from .recipe import cache_dir, cache_problem, recipe_file, recipe_lines, tar_of

DEFAULT_TAG = "pdee-ee:latest"
PLATFORM_BASE = "python:3.12-slim"
PLATFORM_PYTHON = "3.12"
OnLine = Callable[[str], None]  # told each line of what a build does


def _quiet(_message: str) -> None:
    pass


class ImageBackend(Backend, Protocol):
    """What building an image needs of a backend, besides running EEs (Docker has it)."""

    def has_image(self, tag: str) -> bool: ...

    def import_rootfs(self, tarball: Path, tag: str) -> None: ...

    def python_version(self, tag: str) -> str: ...

    def build(
        self,
        context: IO[bytes],
        tag: str,
        buildargs: dict[str, str],
        on_output: Callable[[str], None],
    ) -> str: ...


def recipe_files() -> dict[str, bytes]:
    """The build context but for the wheels: the Dockerfile, requirements and runtime."""
    files = {
        "Dockerfile": recipe_file("ee/Dockerfile"),
        "wheels/requirements.txt": recipe_file("ee/requirements.txt"),
        "runtime-wheels/requirements.txt": recipe_file("ee/runtime-requirements.txt"),
    }
    runtime = resources.files("pdee.runtime")
    for entry in sorted(runtime.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".py"):
            files[f"pdee_runtime/{entry.name}"] = entry.read_bytes()
    return files


def recipe_fingerprint() -> str:
    """A short hash of the recipe; an image labelled with another one is stale."""
    digest = hashlib.sha256()
    for name, data in sorted(recipe_files().items()):
        digest.update(name.encode() + b"\0" + data + b"\0")
    return digest.hexdigest()[:16]


def ee_machine() -> str:
    """The EEs' machine, as wheels' platform tags name it (``x86_64``, ``aarch64``)."""
    machine = platform.machine().lower()
    return {"arm64": "aarch64", "amd64": "x86_64"}.get(machine, machine)


def download_wheels(
    requirements: bytes, python: str, progress: OnLine = _quiet, machine: str | None = None
) -> Path:
    """The wheels of ``requirements`` for an EE running ``python``, downloaded once:
    pure-Python ones, or, given ``machine``, binary ones for that Python and machine.

    Raises:
        ImageError: pip could not get them (no network on the host, a proxy, ...).
    """
    major_minor = ".".join(python.split(".")[:2])
    salt = major_minor if machine is None else f"{major_minor} cp {machine}"
    key = hashlib.sha256(requirements + salt.encode()).hexdigest()[:16]
    wheels = cache_dir() / "wheels" / f"ee-{key}"
    if (wheels / "requirements.txt").is_file():
        return wheels
    kind = "wheels" if machine is None else f"the runtime's wheels ({machine})"
    progress(f"downloading {kind} for Python {major_minor} on the host (pip download)")
    partial = wheels.with_name(wheels.name + f".part-{uuid.uuid4().hex[:8]}")
    try:
        partial.mkdir(parents=True)
        (partial / "requirements.txt").write_bytes(requirements)
    except OSError as exc:
        raise UsageError(cache_problem(exc) or f"cannot write pdee's cache: {exc}") from None
    try:
        command = [sys.executable, "-m", "pip", "download", "--quiet"]
        command += ["--disable-pip-version-check", "--no-deps", "--only-binary=:all:"]
        if machine is None:
            command += ["--implementation", "py", "--abi", "none", "--platform", "any"]
        else:
            abi = "cp" + major_minor.replace(".", "")
            command += ["--implementation", "cp", "--abi", abi]
            for tag in wheel_platforms(machine):
                command += ["--platform", tag]
        command += ["--python-version", major_minor, "--dest", str(partial)]
        command += ["-r", str(partial / "requirements.txt")]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            said = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ImageError(
                f"pip could not download the EE's wheels ({said}); check the host's "
                f"network and proxy settings, then run `pdee image build` again"
            )
        try:
            partial.replace(wheels)
        except OSError:  # another build finished the same download first
            if not (wheels / "requirements.txt").is_file():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return wheels


def apt_source_files() -> list[str]:
    """This machine's apt source files (``PDEE_APT_SOURCES``: the ones to use instead)."""
    given = os.environ.get("PDEE_APT_SOURCES")
    if given:
        return given.split()
    candidates = [Path("/etc/apt/sources.list")]
    for pattern in ("*.list", "*.sources"):
        candidates += sorted(Path("/etc/apt/sources.list.d").glob(pattern))
    found = []
    for path in candidates:
        try:
            text = path.read_text()
        except OSError:
            continue
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
        if any("debian" in line or "ubuntu" in line for line in lines):
            found.append(str(path))
    return found


def debian_suite() -> str:
    """This machine's Debian codename (bookworm when it does not say)."""
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            key, _, value = line.partition("=")
            if key == "VERSION_CODENAME" and value.strip('"'):
                return value.strip('"')
    except OSError:
        pass
    return "bookworm"


def _ensure_mmdebstrap(progress: OnLine) -> str:
    found = shutil.which("mmdebstrap")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ImageError(
            f"no {PLATFORM_BASE} image here and no mmdebstrap to bootstrap a base: "
            f"install mmdebstrap (apt-get install mmdebstrap), or give --base IMAGE"
        )
    progress("installing mmdebstrap (Debian package)")
    install = ["apt-get", "install", "-y", "-qq", "mmdebstrap"]
    for command in (["apt-get", "update", "-qq"], install):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise ImageError(f"`{' '.join(command)}` failed: {done.stderr.strip()[-300:]}")
    return shutil.which("mmdebstrap") or "mmdebstrap"


def bootstrap_base(
    backend: ImageBackend,
    tag: str,
    progress: OnLine = _quiet,
    include: tuple[str, ...] | None = None,
) -> None:
    """Make image ``tag``: a minimal Debian with ``include`` (default: the recipe's
    ``images/base/packages.txt``, python3 and pip), from this machine's apt.

    Raises:
        ImageError: mmdebstrap is missing and cannot be installed, or failed.
    """
    include = include or recipe_lines("base/packages.txt")
    mmdebstrap = _ensure_mmdebstrap(progress)
    sources = apt_source_files()
    if not sources:
        raise ImageError(
            "no apt sources found to bootstrap a base from; set PDEE_APT_SOURCES or give --base"
        )
    suite = debian_suite()
    progress(f"bootstrapping {tag} from Debian packages ({suite}; sources: {' '.join(sources)})")
    with tempfile.TemporaryDirectory(prefix="pdee-base-") as scratch:
        tarball = Path(scratch) / "rootfs.tar"
        command = [mmdebstrap, "--quiet", "--variant=minbase", f"--include={','.join(include)}"]
        for excluded in ("man", "doc", "locale"):
            command.append(f"--dpkgopt=path-exclude=/usr/share/{excluded}/*")
        command += [suite, str(tarball), *sources]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise ImageError(f"mmdebstrap failed: {done.stderr.strip()[-300:]}")
        progress(f"importing {tag}")
        backend.import_rootfs(tarball, tag)


def choose_base(backend: ImageBackend, base: str | None = None, progress: OnLine = _quiet) -> str:
    """The base to build on: ``base``, else the platform's Python, else a bootstrapped one.

    Raises:
        ImageError: ``base`` is not here, or no base can be made.
    """
    if base is not None:
        if not backend.has_image(base):
            raise ImageError(
                f"base image {base} is not here; pull it (`docker pull {base}`) or drop --base"
            )
        return base
    if backend.has_image(PLATFORM_BASE):
        return PLATFORM_BASE
    bootstrapped = f"pdee-base:{debian_suite()}"
    if not backend.has_image(bootstrapped):
        bootstrap_base(backend, bootstrapped, progress)
    return bootstrapped


def context_tar(wheels: Path, runtime_wheels: Path | None = None) -> io.BytesIO:
    """The EE image's build context: the recipe and the wheels (the steps' preinstalled
    ones, and the runtime's own)."""
    files = recipe_files()
    for folder, found in (("wheels", wheels), ("runtime-wheels", runtime_wheels)):
        for wheel in sorted(found.glob("*.whl")) if found is not None else []:
            files[f"{folder}/{wheel.name}"] = wheel.read_bytes()
    return tar_of(files)


@dataclass(frozen=True)
class BuiltImage:
    """An EE image ready to run."""

    tag: str
    id: str
    base: str
    python: str
    built: bool  # False: it was up to date


def build(
    backend: ImageBackend,
    tag: str = DEFAULT_TAG,
    base: str | None = None,
    progress: OnLine = _quiet,
    build_output: OnLine = _quiet,
) -> BuiltImage:
    """Build the EE image ``tag`` (see the module's docstring), unless it is up to date.

    Args:
        backend: where to build it.
        tag: the image's name.
        base: the image to build on; default: python:3.12-slim if here, else a
            Debian base bootstrapped from this machine's apt sources.
        progress: called with a line for each thing it does.
        build_output: called with each line the image build prints.

    Raises:
        ImageError: a base, the wheels or the build could not be had.
    """
    chosen = choose_base(backend, base, progress)
    recipe = recipe_fingerprint()
    built = False
    current = backend.image(tag) if backend.has_image(tag) else None
    if current is None or current.recipe != recipe or current.base_image != chosen:
        python = backend.python_version(chosen)
        requirements = recipe_files()["wheels/requirements.txt"]
        wheels = download_wheels(requirements, python, progress)
        runtime_requirements = recipe_files()["runtime-wheels/requirements.txt"]
        runtime_wheels = download_wheels(runtime_requirements, python, progress, ee_machine())
        progress(f"building {tag} from {chosen} (recipe {recipe})")
        backend.build(
            context_tar(wheels, runtime_wheels),
            tag,
            {"BASE_IMAGE": chosen, "RECIPE": recipe, "PYTHON_VERSION": python},
            build_output,
        )
        built = True
    progress(f"checking that an EE of {tag} starts")
    spec = EESpec(image=tag, tmp_size_bytes=64 * 2**20, memory_bytes=256 * 2**20, network="none")
    try:
        with backend.ee(spec, f"image-check-{uuid.uuid4().hex[:8]}", "check") as ee:
            python = str(ee.hello.get("python"))
    except EEError as exc:
        raise ImageError(f"an EE of {tag} does not start: {exc}; rebuild it") from exc
    return BuiltImage(tag, backend.image(tag).id, chosen, python, built)


def check_image(backend: Backend, tag: str) -> ImageInfo:
    """The image, if it was built from this pdee's recipe.

    Raises:
        ImageError: missing, or built from another recipe.
    """
    info = backend.image(tag)
    expected = recipe_fingerprint()
    if info.recipe != expected:
        raise ImageError(
            f"image {tag} was built from recipe {info.recipe or 'unknown'}, this pdee "
            f"needs {expected}; rebuild it with {build_command(tag)}"
        )
    return info


def python_note(python: str, base_image: str | None, runtimes: Sequence[str] = ()) -> str | None:
    """A warning when the EE's Python is not the platform's, or not the one a synced
    workflow's steps declare (``runtimes``, as ``workflow.yaml`` gives them: python3.12)."""
    wanted = sorted({runtime.removeprefix("python") for runtime in runtimes})
    off = [v for v in wanted or [PLATFORM_PYTHON] if not python.startswith(v + ".")]
    if not off:
        return None
    declared = (
        "the workflow's steps declare " + ", ".join(f"python{version}" for version in off)
        if wanted
        else f"the platform runs {PLATFORM_PYTHON}"
    )
    return (
        f"the EE runs Python {python} (base image {base_image or 'unknown'}), {declared}: "
        f"build the image on python:3.12-slim where you can (pdee image build --base "
        f"python:3.12-slim)"
    )
