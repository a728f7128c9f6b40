"""Fake EEs steered by the HTTP request that triggered them, for ``pdee serve`` tests
with no Docker; and, run as a script, the ``pdee`` command on them.

A request steers its execution: ``?sleep=S`` (seconds it runs), a JSON body's
``respond`` (what the workflow's ``pd.respond`` recorded) and ``delay_ms`` (the first
step calls ``pd.flow.delay`` with it, in the execution's first part).

``python fake_requests.py serve hook.py ...`` is ``pdee serve hook.py ...`` with these
EEs in place of Docker's: the real command, its signals and its output, no daemon. Each
EE says on stderr when it runs an execution (``running #0 on ee-1``) and when it is
destroyed (``destroyed ee-1``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fake_backend import FakeBackend, FakeEE

from pdee.backends import EESpec, OnCall
from pdee.runtime import protocol


class RequestEE(FakeEE):
    """A fake EE whose execution does what its request says (see the module)."""

    steps: list[str]

    def request(
        self, message: protocol.Request, timeout_s: float, on_call: OnCall | None = None
    ) -> protocol.Reply:
        if message["type"] == protocol.LOAD:
            self.steps = [step["name"] for step in message["steps"]]
            return super().request(message, timeout_s, on_call)
        if message["type"] != protocol.RUN:
            return super().request(message, timeout_s, on_call)
        event: dict[str, Any] = message["event"]
        body = event.get("body") if isinstance(event.get("body"), dict) else {}
        sleep = float((event.get("query") or {}).get("sleep", 0))
        steered: protocol.Run = {**message, "event": {**event, "sleep": sleep}}
        if getattr(self.backend, "announce", False):
            print(f"running #{message['index']} on {self.id}", file=sys.stderr, flush=True)
        reply = super().request(steered, timeout_s, on_call)
        assert reply["type"] == protocol.RESULT
        if "respond" in body:
            reply["respond"] = body["respond"]
        if "delay_ms" in body and not message.get("start_step"):
            reply["pause"] = {"kind": "delay", "step": self.steps[0], "ms": body["delay_ms"],
                              "resume_url": "https://r", "cancel_url": "https://c"}  # fmt: skip
        return reply

    def destroy(self) -> None:
        if getattr(self.backend, "announce", False) and not self.destroyed.is_set():
            print(f"destroyed {self.id}", file=sys.stderr, flush=True)
        super().destroy()


class RequestBackend(FakeBackend):
    """A fake backend of ``RequestEE``s; ``announce``: each destroyed EE says so."""

    announce = False

    def ee(self, spec: EESpec, run_id: str, ee_id: str) -> FakeEE:
        ee = RequestEE(self, spec, ee_id)
        self.ees.append(ee)
        return ee


def main() -> None:
    """``pdee`` with ``RequestBackend`` in place of the Docker daemon."""
    import pdee.serving.handle as handle

    @contextmanager
    def fake_daemon(_connections: int) -> Iterator[RequestBackend]:
        backend = RequestBackend()
        backend.announce = True
        yield backend

    handle.docker_backend = fake_daemon  # type: ignore[assignment]
    from pdee.entry import main as pdee_main

    sys.argv[0] = "pdee"
    pdee_main()


if __name__ == "__main__":
    main()
