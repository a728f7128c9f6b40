"""The Docker backend: the only module that imports ``docker``.

An EE is one container running the runtime's supervisor. pdee talks to it over the
container's attached stdin/stdout (Docker's attach API, one JSON message per line), so
nothing is bind-mounted and no port is published: it works the same with a remote
``DOCKER_HOST``, Docker-in-Docker, or ``--network none``.

Every container carries the label ``pdee.run=<run id>``, its owner's labels and those
of ``PDEE_LABELS`` (``ownership``); ``DockerBackend.remove_run`` and ``pdee gc`` find
leftovers by label, not by remembered references. With ``--debug`` every Docker call is
logged with its time (logger ``pdee.docker``).
"""

from __future__ import annotations

import enum
import gc
import logging
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container

from ..errors import BackendUnavailable, EEError, EEGone, EEUnresponsive, ImageError, UsageError
from ..interrupts import deferred
from ..runtime import protocol
from . import LABEL_RUN, EESpec, Host, ImageInfo, OnCall, PackageImage, build_command, ownership
from .channel import AttachedStream, ReplyProgress, next_reply, send_message

if TYPE_CHECKING:  # the relay is imported under --debug-port only (start-up time)
    from .relay import Link

log = logging.getLogger("pdee.docker")

LABEL_RECIPE = "pdee.recipe"
LABEL_BASE = "pdee.base"
LABEL_PYTHON = "pdee.python"
PIDS_LIMIT = 1024
DOCKER_API_VERSION = "1.41"  # Docker Engine 20.10 and later
BUILTIN_NETWORKS = ("bridge", "none", "host")
DOCKER_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)


@contextmanager
def _timed(what: str) -> Iterator[None]:
    """Log one Docker call and how long it took (``--debug``)."""
    started = time.perf_counter()
    failed = True
    try:
        yield
        failed = False
    finally:
        if log.isEnabledFor(logging.DEBUG):
            outcome = " (failed)" if failed else ""
            log.debug("%s: %.1f ms%s", what, (time.perf_counter() - started) * 1000, outcome)


class EEState(enum.Enum):
    """Where an EE is in its life; it only moves down this list."""

    NEW = "new"  # an object only: no container yet
    RUNNING = "running"  # the container runs and its supervisor answered
    DESTROYED = "destroyed"  # the container is gone (or was never made); final


class DockerEE:
    """One EE as a container with the runtime; a context manager (start ... destroy).

    ``start`` makes and starts the container and waits for the supervisor;
    ``request`` sends one message and returns the reply; ``destroy`` removes the
    container and is safe to call any number of times, from any thread.
    """

    def __init__(
        self, client: docker.DockerClient, spec: EESpec, labels: dict[str, str], ee_id: str
    ) -> None:
        self.client = client
        self.spec = spec
        self.labels = labels
        self.id = ee_id
        self.state = EEState.NEW
        self.container: Container | None = None
        self.stream: AttachedStream | None = None
        self.hello: dict[str, Any] = {}  # the runtime's, once started
        self.link: Link | None = None  # its side of the debug relay (--debug-port)
        # start() and request() run on an EE's own thread while destroy() may come
        # from another; the thread that last leaves the stream closes it.
        self._lock = threading.Lock()
        self._readers = 0

    def __repr__(self) -> str:
        return f"<DockerEE {self.id} {self.state.value}>"

    def __enter__(self) -> DockerEE:
        try:
            self.start()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.destroy()

    @property
    def container_name(self) -> str:
        return f"pdee-{self.labels[LABEL_RUN]}-{self.id}"

    def _create_options(self) -> dict[str, Any]:
        spec = self.spec
        options: dict[str, Any] = {
            "name": self.container_name,
            "labels": self.labels,
            "stdin_open": True,
            "tty": False,
            "read_only": True,
            "tmpfs": {
                "/tmp": f"size={spec.tmp_size_bytes},exec,mode=1777",
                # Docker mounts POSIX message queues here, world-writable: not on the platform.
                "/dev/mqueue": "ro,size=4k",
            },
            "mem_limit": spec.container_memory_bytes,
            "memswap_limit": spec.container_memory_bytes,
            # The supervisor starts as root to set up the EE, then keeps root only as its
            # real user (runtime.sandbox); steps run as the platform's user.
            "user": "0",
            "cap_drop": ["ALL"],
            "cap_add": ["SETUID", "SETGID"] + (["NET_ADMIN"] if spec.block_link_local else []),
            "security_opt": ["no-new-privileges"],
            "pids_limit": PIDS_LIMIT,
            "init": True,
            # No /dev/shm (nor SysV IPC shared with anything): the platform has none.
            "ipc_mode": "none",
            "nano_cpus": round(spec.cpus * 1e9),
        }
        if spec.block_link_local:
            options["command"] = ["--block-link-local"]
        if spec.network in BUILTIN_NETWORKS:
            options["network_mode"] = spec.network
        else:
            options["network"] = spec.network
        return options

    def start(self, timeout_s: float = 60.0) -> protocol.Hello:
        """Create and start the container; return the supervisor's hello.

        Raises:
            EEError: the container could not start or its runtime did not answer.
            RuntimeError: the EE was already started or destroyed.
        """
        with self._lock:
            if self.state is not EEState.NEW:
                raise RuntimeError(f"EE {self.id} is {self.state.value}; an EE starts only once")
        try:
            with deferred(), _timed(f"create {self.container_name}"):
                # a container the daemon made must not be unknown to pdee
                container = self.client.containers.create(self.spec.image, **self._create_options())
            with self._lock:
                self.container = container
                destroyed = self._destroyed()
            if destroyed:  # destroy() came while the daemon was creating it
                _remove_container(self.client, str(container.id))
                raise EEError(f"EE {self.id} was destroyed while it started")
            # Attach before start, so that not a byte of output is missed.
            with _timed(f"attach {self.container_name}"):
                stream = AttachedStream(
                    self.client.api.attach_socket(
                        str(container.id),
                        params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1},
                    )
                )
            if self.spec.debug_relay is not None:  # a thread reads the stream from now on
                self.link = self.spec.debug_relay.link(stream.send)
                stream.pump(self.link.deliver)
            with self._lock:
                self.stream = stream
                destroyed = self._destroyed()
            if destroyed:
                stream.close()
                raise EEError(f"EE {self.id} was destroyed while it started")
            with _timed(f"start {self.container_name}"):
                container.start()
        except DOCKER_ERRORS as exc:
            raise EEError(f"EE {self.id} could not start: {_explain(exc)}") from exc
        with self._lock:
            if self._destroyed():
                raise EEError(f"EE {self.id} was destroyed while it started")
            self.state = EEState.RUNNING
        hello = self._read_message(timeout_s, "start")
        if hello["type"] != protocol.HELLO:
            raise EEError(f"EE {self.id}'s runtime began with {hello['type']!r}, not a hello")
        self.hello = dict(hello)
        return hello

    def _destroyed(self) -> bool:
        # A method, not an inline test: destroy() may change the state from another thread.
        return self.state is EEState.DESTROYED

    def rename(self, ee_id: str) -> None:
        """Take the id ``ee_id``; the container's name follows it where the daemon lets it
        (a name is only a label for people: a refusal is logged, not raised)."""
        old = self.container_name
        self.id = ee_id
        if self.container is None:
            return
        try:
            with _timed(f"rename {old} to {self.container_name}"):
                self.client.api.rename(str(self.container.id), self.container_name)
        except DOCKER_ERRORS as exc:
            log.warning("EE %s keeps the container name %s: %s", ee_id, old, _explain(exc))

    def request(
        self, message: protocol.Request, timeout_s: float, on_call: OnCall | None = None
    ) -> protocol.Reply:
        """Send one message to the supervisor and return its reply; ``on_call`` answers
        the steps' calls meanwhile.

        Raises:
            EEGone: the container ended (``oom_killed`` says whether for memory).
            EEError: no reply within ``timeout_s``, or a reply that is not a message.
        """
        if self.state is not EEState.RUNNING or self.stream is None:
            raise RuntimeError(f"EE {self.id} is {self.state.value}, not running")
        if self.link is not None and message["type"] == protocol.RUN:
            self.link.route()  # a debugger that attaches now reaches this EE
        try:
            send_message(self.stream, message)
        except OSError:
            pass  # the read below says why the EE went away
        return self._read_message(timeout_s, message["type"], on_call)

    def _read_message(
        self, timeout_s: float, during: str, on_call: OnCall | None = None
    ) -> protocol.Reply:
        stream = self.stream
        assert stream is not None
        with self._lock:
            self._readers += 1
        progress = ReplyProgress()
        try:
            return self._read_reply(stream, timeout_s, during, progress, on_call)
        finally:
            with self._lock:
                self._readers -= 1
                last_out = self._destroyed() and self._readers == 0
            if last_out:
                stream.close()

    def _read_reply(
        self,
        stream: AttachedStream,
        timeout_s: float,
        during: str,
        progress: ReplyProgress,
        on_call: OnCall | None,
    ) -> protocol.Reply:
        try:
            reply = next_reply(stream, time.monotonic() + timeout_s, progress, on_call)
        except TimeoutError:
            if during == protocol.RUN:  # mid-execution: the execution's failure, not the run's
                raise EEUnresponsive(
                    f"EE {self.id} gave no reply to its execution in {timeout_s:g} s",
                    step=progress.step,
                    logs=progress.texts(),
                ) from None
            raise EEError(
                f"EE {self.id} did not answer {during!r} in time; its runtime is stuck "
                f"({self._stderr_tail() or 'no output'})"
            ) from None
        except ValueError as exc:
            raise EEError(f"EE {self.id} sent something that is not a message: {exc}") from None
        except OSError as exc:
            reply = None
            if self.state is EEState.DESTROYED:
                raise EEError(f"EE {self.id} was destroyed") from exc
        if reply is None:
            if self.state is EEState.DESTROYED:
                raise EEError(f"EE {self.id} was destroyed")
            raise self._gone(during, progress)
        if reply["type"] == protocol.FATAL:
            raise EEError(f"EE {self.id}'s runtime failed: {reply['message']}")
        return reply

    def _stderr_tail(self) -> str:
        if self.stream is None:
            return ""
        return self.stream.stderr_tail.decode(errors="replace").strip()[-500:]

    def _gone(self, during: str, progress: ReplyProgress) -> EEGone:
        oom_killed, exit_code = False, None
        try:
            assert self.container is not None
            with _timed(f"inspect {self.container_name}"):
                self.container.wait(timeout=10)
                self.container.reload()
            oom_killed = bool(self.container.attrs["State"].get("OOMKilled"))
            exit_code = self.container.attrs["State"].get("ExitCode")
        except DOCKER_ERRORS:
            pass
        why = (
            "it was killed for memory (the container's hard limit)"
            if oom_killed
            else (f"exit code {exit_code}" if exit_code is not None else "it is gone")
        )
        tail = self._stderr_tail()
        step = progress.step
        where = f"step {step!r}" if step else repr(during)
        return EEGone(
            f"EE {self.id} ended during {where}: {why}" + (f"; stderr: {tail}" if tail else ""),
            oom_killed=oom_killed,
            container_exit_code=exit_code,
            step=step,
            logs=progress.texts(),
        )

    def destroy(self) -> None:
        """Remove the container (and its tmpfs). Safe to call again, before start, or
        from another thread while the EE starts or waits for a reply."""
        with self._lock:
            if self.state is EEState.DESTROYED:
                return
            self.state = EEState.DESTROYED
            container, stream, read_elsewhere = self.container, self.stream, self._readers > 0
        if self.link is not None:
            self.link.close()
        if stream is not None:
            stream.shutdown()  # wakes a thread waiting for a reply
            if not read_elsewhere:
                stream.close()
        if container is not None:
            try:
                _remove_container(self.client, str(container.id))
            except DOCKER_ERRORS as exc:
                # The run's final sweep by label, or `pdee gc`, removes it later.
                log.warning("could not remove EE %s: %s", self.id, _explain(exc))


def _remove_container(client: docker.DockerClient, container_id: str) -> bool:
    """Force-remove a container and its volumes; False if it was already gone."""
    try:
        with _timed(f"remove {container_id[:12]}"):
            client.api.remove_container(container_id, force=True, v=True)
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        if exc.status_code == 409:  # removal already in progress
            return False
        raise
    return True


def _collect_failed_sockets() -> None:
    """Free the socket docker-py leaves open when connecting to its Unix socket fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def _explain(exc: Exception) -> str:
    if isinstance(exc, docker.errors.APIError):
        return str(exc.explanation or exc)
    return str(exc)


def _unreachable(exc: BaseException) -> str:
    """Why a connection to the daemon failed, in a few words: the operating system's
    reason (``connection refused``, ``no such file or directory``) found among the
    exceptions ``exc`` wraps (requests and urllib3 nest it in their own, as arguments
    and causes), else ``exc``'s first line."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror.lower()
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


@dataclass(frozen=True)
class Sweep:
    """What ``DockerBackend.sweep`` did."""

    removed: int  # containers removed
    spared: int  # containers of live pdee runs, left alone


class DockerBackend:
    """EEs as containers on a Docker daemon (``DOCKER_HOST``, else the local socket)."""

    def __init__(
        self, client: docker.DockerClient, labels: Mapping[str, str] | None = None
    ) -> None:
        self.client = client
        self.owner = ownership.Owner.this_process()
        self.labels = dict(labels or {})  # the user's (``PDEE_LABELS``), on every container

    def _labels(self, run_id: str) -> dict[str, str]:
        return {**self.labels, LABEL_RUN: run_id, **self.owner.labels(time.time())}

    def __repr__(self) -> str:
        return f"<DockerBackend {self.client.api.base_url}>"

    def __enter__(self) -> DockerBackend:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections to the daemon."""
        self.client.close()

    @classmethod
    def connect(
        cls, connections: int = 10, labels: Mapping[str, str] | None = None
    ) -> DockerBackend:
        """Connect where docker-py looks (``DOCKER_HOST``, else the local socket).

        Args:
            connections: how many requests may be in flight at once (one per EE
                thread, and a few more), so that none is dropped from the pool.
            labels: labels to put on every container made; None: those of ``PDEE_LABELS``.

        Raises:
            UsageError: ``PDEE_LABELS`` is not ``KEY=VALUE,KEY=VALUE``.
            BackendUnavailable: no daemon answers there.
        """
        labels = ownership.labels_from_env() if labels is None else labels
        client = None
        try:
            # A fixed API version: with "auto", docker-py asks the daemon at once and
            # leaks that socket when none answers.
            with _timed("connect and ping"):
                client = docker.from_env(
                    version=DOCKER_API_VERSION, timeout=120, max_pool_size=connections
                )
                client.ping()
            return cls(client, labels)
        except DOCKER_ERRORS as exc:
            if client is not None:
                client.close()
            failure = _unreachable(exc)
        # Outside the except block, so that the traceback no longer holds the socket.
        _collect_failed_sockets()
        where = os.environ.get("DOCKER_HOST") or "the local socket"
        raise BackendUnavailable(
            f"no Docker daemon answers at {where} ({failure}); start dockerd or set DOCKER_HOST"
        )

    # -- what a run needs --

    def image(self, tag: str) -> ImageInfo:
        """What the image ``tag`` is.

        Raises:
            ImageError: there is no such image here.
        """
        try:
            with _timed(f"inspect image {tag}"):
                image = self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            raise ImageError(f"image {tag} not found; build it with {build_command(tag)}") from None
        except DOCKER_ERRORS as exc:
            raise ImageError(f"cannot inspect image {tag}: {_explain(exc)}") from exc
        labels = image.labels or {}
        return ImageInfo(
            tag=tag,
            id=image.short_id.removeprefix("sha256:"),
            recipe=labels.get(LABEL_RECIPE),
            base_image=labels.get(LABEL_BASE),
            python=labels.get(LABEL_PYTHON),
        )

    def check_network(self, name: str) -> None:
        """Raises UsageError if ``name`` is neither built in nor an existing network."""
        if name in BUILTIN_NETWORKS:
            return
        try:
            with _timed(f"inspect network {name}"):
                self.client.networks.get(name)
        except docker.errors.NotFound:
            raise UsageError(
                f"network {name!r} does not exist; use bridge, none, host or create it "
                f"with `docker network create {name}`"
            ) from None

    def host(self) -> Host:
        """The daemon's host's CPUs and memory.

        Raises:
            BackendUnavailable: the daemon stopped answering.
        """
        try:
            with _timed("info"):
                info = self.client.info()
        except DOCKER_ERRORS as exc:
            raise BackendUnavailable(f"the Docker daemon failed: {_explain(exc)}") from exc
        return Host(cpus=int(info.get("NCPU") or 1), memory_bytes=int(info.get("MemTotal") or 0))

    def package_image(self, wanted: PackageImage, progress: Callable[[str], None]) -> str:
        """The image ``wanted`` (an EE image with packages), built once with no network.

        Raises:
            ImageError: the build failed.
        """
        if not self.has_image(wanted.tag):
            progress(f"building {wanted.tag} with {wanted.specs}")
            buildargs = {"EE_IMAGE": wanted.base, "PACKAGES": wanted.specs}
            self.build(wanted.context(), wanted.tag, buildargs, lambda _: None)
        return wanted.tag

    def ee(self, spec: EESpec, run_id: str, ee_id: str) -> DockerEE:
        """A new, not yet started, EE of run ``run_id``."""
        return DockerEE(self.client, spec, self._labels(run_id), ee_id)

    def remove_run(self, run_id: str) -> int:
        """Force-remove every container of run ``run_id``; how many there were."""
        return sum(
            _remove_container(self.client, c["Id"])
            for c in self._containers([f"{LABEL_RUN}={run_id}"])
        )

    def sweep(self, everything: bool = False, only: Mapping[str, str] | None = None) -> Sweep:
        """Remove the EEs whose pdee is gone (``ownership.abandoned``), or all of them.

        Args:
            everything: remove the EEs of live runs too.
            only: look only at the EEs that carry every one of these labels.

        Raises:
            BackendUnavailable: the daemon stopped answering.
        """
        removed = spared = 0
        now, host, only = time.time(), socket.gethostname(), only or {}
        try:
            for container in self._containers(ownership.selector(only)):
                labels = container.get("Labels") or {}
                if not ownership.carries(labels, only):
                    continue  # the daemon filters already; never remove what was not asked
                if everything or ownership.abandoned(labels, now, host):
                    removed += _remove_container(self.client, container["Id"])
                else:
                    spared += 1
        except DOCKER_ERRORS as exc:
            raise BackendUnavailable(f"the Docker daemon failed: {_explain(exc)}") from exc
        return Sweep(removed, spared)

    def _containers(self, labels: list[str]) -> list[dict[str, Any]]:
        # The low-level list: the high-level one inspects each container and fails
        # on one removed meanwhile. The daemon ANDs the label filters.
        with _timed(f"list containers {' '.join(labels)}"):
            return self.client.api.containers(all=True, filters={"label": labels})  # type: ignore[no-any-return]

    # -- what building the image needs (``backends.image``) --

    def has_image(self, tag: str) -> bool:
        try:
            with _timed(f"inspect image {tag}"):
                self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            return False
        return True

    def import_rootfs(self, tarball: Path, tag: str) -> None:
        """Make image ``tag`` from a root filesystem tarball (``docker import``).

        Raises:
            ImageError: the daemon refused it.
        """
        repository, _, version = tag.rpartition(":")
        try:
            with _timed(f"import {tag}"):
                self.client.api.import_image_from_file(
                    str(tarball), repository=repository, tag=version
                )
        except DOCKER_ERRORS as exc:
            raise ImageError(f"cannot import {tag}: {_explain(exc)}") from exc

    def python_version(self, tag: str) -> str:
        """The version of ``python3`` in image ``tag`` (a throwaway container, no network).

        Raises:
            ImageError: the image has no working python3.
        """
        command = ["python3", "-c", "import platform; print(platform.python_version())"]
        try:
            with _timed(f"python3 in {tag}"):
                output = self.client.containers.run(
                    tag,
                    command,
                    entrypoint=[],
                    network_mode="none",
                    remove=True,
                    labels=self._labels("image-build"),
                )
        except DOCKER_ERRORS as exc:
            raise ImageError(f"image {tag} has no working python3: {_explain(exc)}") from exc
        return bytes(output).decode().strip()

    def build(
        self,
        context: IO[bytes],
        tag: str,
        buildargs: dict[str, str],
        on_output: Callable[[str], None],
    ) -> str:
        """Build image ``tag`` from a tar ``context`` with no network; its id.

        Raises:
            ImageError: the build failed (the message holds the daemon's last words).
        """
        last = ""
        try:
            with _timed(f"build {tag}"):
                for chunk in self.client.api.build(
                    fileobj=context,
                    custom_context=True,
                    tag=tag,
                    buildargs=buildargs,
                    network_mode="none",
                    rm=True,
                    forcerm=True,
                    decode=True,
                ):
                    if "error" in chunk:
                        raise ImageError(f"building {tag} failed: {chunk['error'].strip()}")
                    for line in str(chunk.get("stream", "")).splitlines():
                        if line.strip():
                            last = line.strip()
                            on_output(last)
        except DOCKER_ERRORS as exc:
            raise ImageError(f"building {tag} failed: {_explain(exc)} ({last})") from exc
        return self.image(tag).id


__all__ = ["DockerBackend", "DockerEE", "Sweep"]
