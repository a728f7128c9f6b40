"""A backend with no Docker: EEs that "run" an execution by waiting.

It implements ``pdee.backends.Backend`` (mypy checks it: ``make lint``), so whole plans
run through the real ``Runner``, threads, virtual clock and clean-up included. An
event steers its execution: ``sleep`` (seconds), ``status`` (how it ends), ``gone``
(the EE's container ends under it), ``tmp`` (bytes it adds to /tmp), ``warm_status``
(how it ends on an EE that ran one before), ``memory`` (bytes it adds to the peak),
``returns`` and ``exports`` (what the step gives; by default its index and its EE's id),
``error`` (the step's error when it does not end ``ok``: type, message, traceback...),
``respond`` (what pd.respond recorded), ``calls`` (data store calls it makes: their
answers are kept in ``FakeEE.answers``).
Its messages are the runtime's (``pdee.runtime.protocol``), as the real EE's are.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from pdee.backends import Backend, EESpec, Host, ImageInfo, OnCall, PackageImage
from pdee.errors import EEError, EEGone, EEUnresponsive
from pdee.provision.image import recipe_fingerprint
from pdee.runtime import protocol


class FakeEE:
    """Starts after ``start_s``; runs an execution by waiting ``event["sleep"]`` seconds."""

    def __init__(self, backend: FakeBackend, spec: EESpec, ee_id: str) -> None:
        self.backend = backend
        self.spec = spec
        self.id = ee_id
        self.names = [ee_id]
        self.started = False
        self.hello: dict[str, Any] = {}
        self.answers: list[dict[str, Any]] = []  # what the last execution's calls got
        self.destroyed = threading.Event()
        self.running = 0
        self.served = 0
        self.tmp_used = 4096
        self.memory = 10 * 2**20
        self.stores: list[str] = []

    def __enter__(self) -> FakeEE:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.destroy()

    def start(self, timeout_s: float = 60.0) -> protocol.Hello:
        if self.backend.fail_start_of == self.id:
            raise EEError(f"EE {self.id} could not start: no such image")
        if self.destroyed.wait(self.backend.start_s):
            raise EEError(f"EE {self.id} was destroyed while it started")
        self.started = True
        hello: protocol.Hello = {
            "type": protocol.HELLO,
            "protocol": self.backend.protocol,
            "python": "3.12.7",
            "tmp_size_bytes": self.spec.tmp_size_bytes,
            "memory_source": "fake",
            "separated": True,
            "link_local": "blocked" if self.spec.block_link_local else "open",
            "clock": "time-machine",
        }
        self.hello = dict(hello)
        return hello

    def rename(self, ee_id: str) -> None:
        self.id = ee_id
        self.names.append(ee_id)

    def request(
        self, message: protocol.Request, timeout_s: float, on_call: OnCall | None = None
    ) -> protocol.Reply:
        assert self.started and not self.destroyed.is_set()
        if message["type"] == protocol.RESET:  # recycled: as new
            self.tmp_used = self.memory = self.served = 0
            return {"type": protocol.RESET, "clean": not self.backend.dirty, "why": None}
        if message["type"] == protocol.LOAD:
            self.stores = sorted(
                {
                    key
                    for step in message["steps"]
                    if "stand_in" not in step
                    for key in step["stores"].values()
                }
            )
            return {"type": protocol.READY, "packages_bytes": 0}
        return self.run(message, on_call)

    def run(self, message: protocol.Run, on_call: OnCall | None) -> protocol.Result:
        event = message["event"]
        self.answers = [on_call(call) for call in event.get("calls", [])] if on_call else []
        self.running += 1
        with self.backend.lock:
            self.backend.in_flight += 1
            self.backend.most_in_flight = max(self.backend.most_in_flight, self.backend.in_flight)
        try:
            assert self.running == 1, f"two executions at once in {self.id}"
            if self.destroyed.wait(event.get("sleep", 0.0)):
                raise EEError(f"EE {self.id} was destroyed")
            if event.get("gone"):
                raise EEGone(f"EE {self.id} ended", oom_killed=True, container_exit_code=137)
            if event.get("frozen"):
                raise EEUnresponsive("the EE stopped answering", step="step", logs={"step": "x"})
            if self.backend.fail_during == message["index"]:
                raise EEError(f"EE {self.id} did not answer 'run' in time")
            self.tmp_used += event.get("tmp", 0)
            self.memory += event.get("memory", 0)
            status = event.get("status", "ok")
            if self.served and "warm_status" in event:
                status = event["warm_status"]
            self.served += 1
            return {
                "type": protocol.RESULT,
                "index": message["index"],
                "status": status,
                "error": event.get("error") if status != "ok" else None,
                "respond": event.get("respond"),
                "exit_reason": None,
                "pause": None,
                "emails": [],
                "duration_ms": event.get("sleep", 0.0) * 1000,
                "steps": {
                    "step": {
                        "return_value": event.get("returns", {"index": message["index"]}),
                        "exports": event.get("exports", {"ee": self.id}),
                        "logs": f"event {message['index']}\n",
                        "duration_ms": 1.0,
                    }
                },
                "tmp": {
                    "used_bytes": self.tmp_used,
                    "peak_used_bytes": self.tmp_used,
                    "files": len(event.get("leaves", [])),
                    "some_files": event.get("leaves", []),
                    "size_bytes": self.spec.tmp_size_bytes,
                },
                "memory": {"peak_bytes": self.memory, "limit_bytes": self.spec.memory_bytes},
                "restarted_steps": [],
                "restart_reasons": {},
                "stray_lines": {},
                "platform_files_intact": not event.get("wipes_pdg"),
            }
        finally:
            self.running -= 1
            with self.backend.lock:
                self.backend.in_flight -= 1

    def destroy(self) -> None:
        self.destroyed.set()


class FakeBackend:
    """What the runner asks of a backend, answered in memory."""

    def __init__(
        self,
        start_s: float = 0.0,
        fail_start_of: str | None = None,
        fail_during: int | None = None,
        recipe: str | None = None,
        host_memory_bytes: int = 24 * 2**30,
    ) -> None:
        self.start_s = start_s
        self.dirty = False  # a reset says the EE cannot be made new
        self.protocol = protocol.PROTOCOL_VERSION  # what its EEs' hello says
        self.host_memory_bytes = host_memory_bytes
        self.fail_start_of = fail_start_of
        self.fail_during = fail_during  # the index of an execution whose EE breaks
        self.recipe = recipe or recipe_fingerprint()
        self.ees: list[FakeEE] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.swept: list[str] = []
        self.closed = False

    def image(self, tag: str) -> ImageInfo:
        return ImageInfo(tag, "abc123", self.recipe, "python:3.12-slim")

    def check_network(self, name: str) -> None:
        pass

    def host(self) -> Host:
        return Host(cpus=2, memory_bytes=self.host_memory_bytes)

    def package_image(self, wanted: PackageImage, progress: Callable[[str], None]) -> str:
        return wanted.tag

    def ee(self, spec: EESpec, run_id: str, ee_id: str) -> FakeEE:
        ee = FakeEE(self, spec, ee_id)
        self.ees.append(ee)
        return ee

    def remove_run(self, run_id: str) -> int:
        self.swept.append(run_id)
        return 0

    def close(self) -> None:
        self.closed = True

    def wait_all_destroyed(self, within_s: float = 5.0) -> bool:
        deadline = time.monotonic() + within_s
        return all(ee.destroyed.wait(max(0.0, deadline - time.monotonic())) for ee in self.ees)


def _declared(backend: FakeBackend) -> Backend:
    return backend  # mypy: the fake has everything the interface declares
