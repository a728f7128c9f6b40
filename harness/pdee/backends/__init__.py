"""The EE backend interface: what a run needs of whatever runs its EEs.

Docker (``backends.docker.DockerBackend``) is the one implementation today; a fake in
the unit tests runs whole plans through the real runner, and Kubernetes pods could be
another. Nothing outside the implementation knows which backend it talks to.

An EE is started once, answers requests one at a time, and is destroyed once
(``destroy`` is safe to call again, and from another thread while it starts or waits
for a reply, which must then end with an ``EEError``)::

    with backend.ee(spec, run_id, "ee-1") as ee:      # start() ... destroy()
        ee.request({"type": protocol.LOAD, ...}, timeout_s=60)
        reply = ee.request({"type": protocol.RUN, ...}, timeout_s=45)

The messages are the runtime's (``pdee.runtime.protocol``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Protocol

from ..errors import BackendUnavailable, EEError, EEGone, ImageError
from ..runtime import protocol

if TYPE_CHECKING:  # the relay is imported under --debug-port only (start-up time)
    from .relay import DebugRelay

# Room above /tmp and the step's limit for the supervisor and the sampling slack:
# the EE's hard memory limit is tmp + memory + this, so /tmp never starves the step.
MEMORY_HEADROOM_BYTES = 256 * 2**20
LABEL_RUN = "pdee.run"


# Answers one call a step makes during an execution: a data store operation, as
# ``{"store", "op", "key", ...}``, with ``step``: the step that made it (as the channel
# knows it); the answer is ``{"found", "value"}`` or ``{"error"}``.
OnCall = Callable[[dict[str, Any]], dict[str, Any]]


def build_command(tag: str) -> str:
    """The command that builds the EE image ``tag``, quoted for a message (with its tag:
    ``pdee image build`` alone builds the default tag, which may be another)."""
    return f"`pdee image build --tag {tag}`"


@dataclass(frozen=True)
class EESpec:
    """How to make an EE: its image and the platform's caps."""

    image: str
    tmp_size_bytes: int
    memory_bytes: int
    network: str = "bridge"
    cpus: float = 1.0
    block_link_local: bool = True  # 169.254.0.0/16 unreachable from the EE
    # --debug-port: the relay whose debuggers reach the EE's steps over its channel.
    debug_relay: DebugRelay | None = field(default=None, compare=False)

    @property
    def container_memory_bytes(self) -> int:
        """The EE's hard limit: /tmp (tmpfs pages are memory) + step + headroom."""
        return self.tmp_size_bytes + self.memory_bytes + MEMORY_HEADROOM_BYTES


@dataclass(frozen=True)
class ImageInfo:
    """What pdee needs to know of the EE image before it starts one."""

    tag: str
    id: str
    recipe: str | None  # the fingerprint of the recipe it was built from
    base_image: str | None
    python: str | None = None  # the EE's Python version


@dataclass(frozen=True)
class Host:
    """The machine EEs run on, as its backend sees it."""

    cpus: int
    memory_bytes: int


@dataclass(frozen=True)
class PackageImage:
    """An EE image with a workflow's packages installed, made once (``packages`` says
    what goes in it; the backend only builds it)."""

    tag: str  # a hash of what it is made of: the same tag is the same image
    base: str  # the EE image it is built on
    specs: str  # its packages, pinned: "PyYAML==6.0.2 six==1.16.0"
    context: Callable[[], IO[bytes]]  # its build context, made only when it is built


class EE(Protocol):
    """One execution environment."""

    id: str
    hello: dict[str, Any]  # what its runtime said when it started ({} before)

    def start(self, timeout_s: float = 60.0) -> protocol.Hello:
        """Make the EE and wait for its runtime; return the runtime's hello.

        Raises:
            EEError: it could not start, or was destroyed meanwhile.
        """
        ...

    def request(
        self, message: protocol.Request, timeout_s: float, on_call: OnCall | None = None
    ) -> protocol.Reply:
        """Send one message to the runtime and return its reply; meanwhile ``on_call``
        answers the calls the steps make (their data store operations).

        Raises:
            EEGone: the EE ended (``oom_killed`` says whether for memory).
            EEError: no reply in time, or the EE was destroyed meanwhile.
        """
        ...

    def rename(self, ee_id: str) -> None:
        """Take the id ``ee_id`` (an EE started ahead gets its id when a cold start takes it)."""
        ...

    def destroy(self) -> None:
        """Remove the EE and everything in it. Idempotent, and safe from any thread."""
        ...

    def __enter__(self) -> EE: ...

    def __exit__(self, *exc: object) -> None: ...


class Backend(Protocol):
    """Where EEs run."""

    def image(self, tag: str) -> ImageInfo:
        """What the image ``tag`` is.

        Raises:
            ImageError: there is no such image.
        """
        ...

    def check_network(self, name: str) -> None:
        """Raises UsageError unless EEs can be attached to network ``name``."""
        ...

    def host(self) -> Host:
        """What the host of the EEs has, which bounds what one EE may be given."""
        ...

    def package_image(self, wanted: PackageImage, progress: Callable[[str], None]) -> str:
        """The image ``wanted``, made unless it is here already; its tag.

        Raises:
            ImageError: it could not be made.
        """
        ...

    def ee(self, spec: EESpec, run_id: str, ee_id: str) -> EE:
        """A new EE of run ``run_id``, not started yet."""
        ...

    def remove_run(self, run_id: str) -> int:
        """Remove whatever run ``run_id`` left (found by label); how many EEs went."""
        ...

    def close(self) -> None:
        """Let go of the backend's connections."""
        ...


__all__ = [
    "EE",
    "LABEL_RUN",
    "MEMORY_HEADROOM_BYTES",
    "Backend",
    "BackendUnavailable",
    "EEError",
    "EEGone",
    "EESpec",
    "Host",
    "ImageError",
    "ImageInfo",
    "OnCall",
    "PackageImage",
]
