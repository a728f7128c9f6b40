"""The EE driver: the only module that talks to Docker.

An ``EE`` is one container running the runtime's supervisor. pdee talks to it over
the container's attached stdin/stdout (Docker's attach API, one JSON message per
line), so nothing is bind-mounted and no port is published: it works the same with
a remote ``DOCKER_HOST``, Docker-in-Docker, or ``--network none``.

Every container carries the label ``pdee.run=<run id>``; ``DockerEngine.remove_run``
and ``pdee gc`` find leftovers by that label, not by remembered references.
"""

from __future__ import annotations

import enum
import gc
import json
import socket
import struct
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container

from .errors import DockerUnavailable, EEError, ImageError, UsageError
from .interrupts import deferred

LABEL_RUN = "pdee.run"
LABEL_EE = "pdee.ee"
DEFAULT_IMAGE = "pdee-ee:latest"
# Room above /tmp and the step's limit for the supervisor and the sampling slack:
# the container's hard limit is tmp + memory + this, so /tmp never starves the step.
MEMORY_HEADROOM_BYTES = 256 * 2**20
PIDS_LIMIT = 1024
DOCKER_API_VERSION = "1.41"  # Docker Engine 20.10 and later
BUILTIN_NETWORKS = ("bridge", "none", "host")
STDOUT, STDERR = 1, 2


@dataclass(frozen=True)
class EESpec:
    """How to make an EE: its image and the platform's caps."""

    image: str
    tmp_size_bytes: int
    memory_bytes: int
    network: str = "bridge"

    @property
    def container_memory_bytes(self) -> int:
        """The container's hard limit: /tmp (tmpfs pages count here) + step + headroom."""
        return self.tmp_size_bytes + self.memory_bytes + MEMORY_HEADROOM_BYTES


@dataclass(frozen=True)
class ImageInfo:
    """What pdee needs to know of the EE image before it starts one."""

    tag: str
    id: str
    runtime_fingerprint: str | None
    base_image: str | None


class EEState(enum.Enum):
    """Where an EE is in its life; it only moves down this list."""

    NEW = "new"  # an object only: no container yet
    RUNNING = "running"  # the container runs and its supervisor answered
    DESTROYED = "destroyed"  # the container is gone (or was never made); final


class EEGone(EEError):
    """The EE's container ended under pdee's feet, e.g. killed for memory."""

    def __init__(self, message: str, oom_killed: bool, container_exit_code: int | None) -> None:
        super().__init__(message)
        self.oom_killed = oom_killed
        self.container_exit_code = container_exit_code


class _AttachedStream:
    """The container's stdin and multiplexed stdout/stderr, over one attach socket.

    Without a TTY Docker frames each chunk of output with an 8-byte header: the
    stream (1 stdout, 2 stderr), three zero bytes, the chunk's length (big-endian).
    """

    def __init__(self, attached: Any) -> None:
        # docker-py hands back the HTTP response's socket, wrapped in a SocketIO for
        # a local daemon; both must be closed.
        self.attached = attached
        self.sock: socket.socket = getattr(attached, "_sock", attached)
        self.raw = bytearray()
        self.stdout = bytearray()
        self.stderr_tail = bytearray()

    def send(self, data: bytes) -> None:
        self.sock.settimeout(None)
        self.sock.sendall(data)

    def read_line(self, deadline: float) -> bytes | None:
        """The next line of stdout, or None at end of stream.

        Raises:
            TimeoutError: no full line came before ``deadline`` (``time.monotonic``).
        """
        while b"\n" not in self.stdout:
            if not self._read_frame(deadline):
                return None
        line, _, rest = bytes(self.stdout).partition(b"\n")
        self.stdout = bytearray(rest)
        return line

    def _read_frame(self, deadline: float) -> bool:
        while True:
            if len(self.raw) >= 8:
                stream, size = struct.unpack(">BxxxL", self.raw[:8])
                if len(self.raw) >= 8 + size:
                    payload = bytes(self.raw[8 : 8 + size])
                    del self.raw[: 8 + size]
                    if stream == STDERR:
                        self.stderr_tail = (self.stderr_tail + payload)[-8192:]
                    else:
                        self.stdout += payload
                    return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(1 << 16)  # raises TimeoutError past the deadline
            if not chunk:
                return False
            self.raw += chunk

    def shutdown(self) -> None:
        """End the stream; a thread blocked reading it wakes up. Safe from any thread."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        """Free the socket. Only when no thread reads it: a read blocked on a socket
        closed under it may wait for its whole timeout instead of waking up."""
        for closable in (self.sock, self.attached):
            try:
                closable.close()
            except OSError:
                pass


class EE:
    """One execution environment: a container with the runtime, used as a context manager.

    ``start`` makes and starts the container and waits for the supervisor;
    ``request`` sends one message and returns the reply; ``destroy`` removes the
    container and is safe to call any number of times.
    """

    def __init__(self, client: docker.DockerClient, spec: EESpec, run_id: str, ee_id: str) -> None:
        self.client = client
        self.spec = spec
        self.run_id = run_id
        self.id = ee_id
        self.state = EEState.NEW
        self.container: Container | None = None
        self.stream: _AttachedStream | None = None
        self.hello: dict[str, Any] = {}
        # start() and request() run on an EE's own thread while destroy() may come
        # from another; the thread that last leaves the stream closes it.
        self._lock = threading.Lock()
        self._readers = 0

    def __enter__(self) -> EE:
        try:
            self.start()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.destroy()

    def _create_options(self) -> dict[str, Any]:
        spec = self.spec
        options: dict[str, Any] = {
            "name": f"pdee-{self.run_id}-{self.id}",
            "labels": {LABEL_RUN: self.run_id, LABEL_EE: self.id},
            "stdin_open": True,
            "tty": False,
            "read_only": True,
            "tmpfs": {"/tmp": f"size={spec.tmp_size_bytes},exec,mode=1777"},
            "mem_limit": spec.container_memory_bytes,
            "memswap_limit": spec.container_memory_bytes,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "pids_limit": PIDS_LIMIT,
            "init": True,
        }
        if spec.network in BUILTIN_NETWORKS:
            options["network_mode"] = spec.network
        else:
            options["network"] = spec.network
        return options

    def start(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """Create and start the container; return the supervisor's hello.

        Raises:
            EEError: the container could not start or its runtime did not answer.
            RuntimeError: the EE was already started or destroyed.
        """
        with self._lock:
            if self.state is not EEState.NEW:
                raise RuntimeError(f"EE {self.id} is {self.state.value}; an EE starts only once")
        try:
            with deferred():  # a container the daemon made must not be unknown to pdee
                container = self.client.containers.create(self.spec.image, **self._create_options())
            with self._lock:
                self.container = container
                destroyed = self._destroyed()
            if destroyed:  # destroy() came while the daemon was creating it
                _remove_container(self.client, str(container.id))
                raise EEError(f"EE {self.id} was destroyed while it started")
            # Attach before start, so that not a byte of output is missed.
            stream = _AttachedStream(
                self.client.api.attach_socket(
                    str(container.id), params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
                )
            )
            with self._lock:
                self.stream = stream
                destroyed = self._destroyed()
            if destroyed:
                stream.close()
                raise EEError(f"EE {self.id} was destroyed while it started")
            container.start()
        except docker.errors.DockerException as exc:
            raise EEError(f"EE {self.id} could not start: {_explain(exc)}") from exc
        with self._lock:
            if self._destroyed():
                raise EEError(f"EE {self.id} was destroyed while it started")
            self.state = EEState.RUNNING
        self.hello = self._read_message(time.monotonic() + timeout_s, "start")
        return self.hello

    def _destroyed(self) -> bool:
        # A method, not an inline test: destroy() may change the state from another thread.
        return self.state is EEState.DESTROYED

    def request(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send one message to the supervisor and return its reply.

        Raises:
            EEGone: the container ended (``oom_killed`` says whether for memory).
            EEError: no reply within ``timeout_s``, or a reply that is not a message.
        """
        if self.state is not EEState.RUNNING or self.stream is None:
            raise RuntimeError(f"EE {self.id} is {self.state.value}, not running")
        data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        try:
            self.stream.send(data)
        except OSError:
            pass  # the read below says why the EE went away
        return self._read_message(time.monotonic() + timeout_s, message.get("type", "?"))

    def _read_message(self, deadline: float, during: str) -> dict[str, Any]:
        stream = self.stream
        assert stream is not None
        with self._lock:
            self._readers += 1
        try:
            return self._read_reply(stream, deadline, during)
        finally:
            with self._lock:
                self._readers -= 1
                last_out = self._destroyed() and self._readers == 0
            if last_out:
                stream.close()

    def _read_reply(self, stream: _AttachedStream, deadline: float, during: str) -> dict[str, Any]:
        try:
            line = stream.read_line(deadline)
        except TimeoutError:
            raise EEError(
                f"EE {self.id} did not answer {during!r} in time; its runtime is stuck "
                f"({self._stderr_tail() or 'no output'})"
            ) from None
        except OSError as exc:
            line = None
            if self.state is EEState.DESTROYED:
                raise EEError(f"EE {self.id} was destroyed") from exc
        if line is None:
            if self.state is EEState.DESTROYED:
                raise EEError(f"EE {self.id} was destroyed")
            raise self._gone(during)
        try:
            reply = json.loads(line)
        except json.JSONDecodeError:
            raise EEError(f"EE {self.id} sent {line[:200]!r}, not a message") from None
        if reply.get("type") == "fatal":
            raise EEError(f"EE {self.id}'s runtime failed: {reply.get('message')}")
        return reply  # type: ignore[no-any-return]

    def _stderr_tail(self) -> str:
        if self.stream is None:
            return ""
        return self.stream.stderr_tail.decode(errors="replace").strip()[-500:]

    def _gone(self, during: str) -> EEGone:
        oom_killed, exit_code = False, None
        try:
            assert self.container is not None
            self.container.wait(timeout=10)
            self.container.reload()
            oom_killed = bool(self.container.attrs["State"].get("OOMKilled"))
            exit_code = self.container.attrs["State"].get("ExitCode")
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            pass
        why = (
            "it was killed for memory (the container's hard limit)"
            if oom_killed
            else (f"exit code {exit_code}" if exit_code is not None else "it is gone")
        )
        tail = self._stderr_tail()
        return EEGone(
            f"EE {self.id} ended during {during!r}: {why}" + (f"; stderr: {tail}" if tail else ""),
            oom_killed=oom_killed,
            container_exit_code=exit_code,
        )

    def destroy(self) -> None:
        """Remove the container (and its tmpfs). Safe to call again, before start, or
        from another thread while the EE starts or waits for a reply."""
        with self._lock:
            if self.state is EEState.DESTROYED:
                return
            self.state = EEState.DESTROYED
            container, stream, read_elsewhere = self.container, self.stream, self._readers > 0
        if stream is not None:
            stream.shutdown()  # wakes a thread waiting for a reply
            if not read_elsewhere:
                stream.close()
        if container is not None:
            _remove_container(self.client, str(container.id))


def _remove_container(client: docker.DockerClient, container_id: str) -> bool:
    """Force-remove a container and its volumes; False if it was already gone."""
    try:
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


class DockerEngine:
    """The Docker daemon, as pdee uses it."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client

    def __enter__(self) -> DockerEngine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections to the daemon."""
        self.client.close()

    @classmethod
    def connect(cls, connections: int = 10) -> DockerEngine:
        """Connect where docker-py looks (``DOCKER_HOST``, else the local socket).

        Args:
            connections: how many requests may be in flight at once (one per EE
                thread, and a few more), so that none is dropped from the pool.

        Raises:
            DockerUnavailable: no daemon answers there.
        """
        client = None
        try:
            # A fixed API version: with "auto", docker-py asks the daemon at once and
            # leaks that socket when none answers.
            client = docker.from_env(
                version=DOCKER_API_VERSION, timeout=120, max_pool_size=connections
            )
            client.ping()
            return cls(client)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            if client is not None:
                client.close()
            failure = _explain(exc)
        # Outside the except block, so that the traceback no longer holds the socket.
        _collect_failed_sockets()
        raise DockerUnavailable(
            f"no Docker daemon answers ({failure}); start dockerd or set DOCKER_HOST"
        )

    def image(self, tag: str) -> ImageInfo:
        """What the image ``tag`` is.

        Raises:
            ImageError: there is no such image here.
        """
        try:
            image = self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            raise ImageError(f"image {tag} not found; build it with `make image`") from None
        except docker.errors.APIError as exc:
            raise ImageError(f"cannot inspect image {tag}: {_explain(exc)}") from exc
        labels = image.labels or {}
        return ImageInfo(
            tag=tag,
            id=image.short_id.removeprefix("sha256:"),
            runtime_fingerprint=labels.get("pdee.runtime"),
            base_image=labels.get("pdee.base"),
        )

    def check_network(self, name: str) -> None:
        """Raises UsageError if ``name`` is neither built in nor an existing network."""
        if name in BUILTIN_NETWORKS:
            return
        try:
            self.client.networks.get(name)
        except docker.errors.NotFound:
            raise UsageError(
                f"network {name!r} does not exist; use bridge, none, host or create it "
                f"with `docker network create {name}`"
            ) from None

    def ee(self, spec: EESpec, run_id: str, ee_id: str) -> EE:
        """A new, not yet started, EE."""
        return EE(self.client, spec, run_id, ee_id)

    def remove_containers(self, run_id: str | None = None) -> int:
        """Force-remove the containers of run ``run_id`` (of every run if None).

        Returns:
            How many containers were removed.
        """
        label = LABEL_RUN if run_id is None else f"{LABEL_RUN}={run_id}"
        # The low-level list: the high-level one inspects each container and fails
        # on one removed meanwhile.
        containers = self.client.api.containers(all=True, filters={"label": label})
        return sum(_remove_container(self.client, c["Id"]) for c in containers)
