"""A run: the plan's events, executed in EEs as the scheduler decides.

``run_plan`` is what ``pdee run`` does, without the CLI: tests call it directly. It
asks the scheduler where each event goes, starts, reuses and destroys EEs through
the driver accordingly, and returns every execution's record. Every container it
makes is removed on the way out, whatever the way out is.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from .driver import EE, DockerEngine, EEGone, EESpec, ImageInfo
from .errors import ImageError
from .events import Workflow, context, default_event
from .interrupts import deferred
from .runtime import fingerprint
from .scheduler import Decision, Mode, Retirement, Scheduler
from .workflow import Step

# How long past the step timeout pdee waits for the runtime's own answer.
REPLY_GRACE_S = 15.0
PLATFORM_PYTHON = "3.12"


@dataclass(frozen=True)
class RunPlan:
    """Everything ``pdee run`` was asked to do."""

    steps: list[Step]
    executions: int
    events: list[dict[str, Any]] | None
    inputs: dict[str, Any]
    mode: Mode
    tmp_size_bytes: int
    memory_bytes: int
    timeout_s: float
    network: str
    image: str
    seed: int | None = None


@dataclass
class RunResult:
    """What a run did: its settings, every execution, every EE's life."""

    run_id: str
    settings: dict[str, Any]
    executions: list[dict[str, Any]] = field(default_factory=list)
    ees: dict[str, dict[str, Any]] = field(default_factory=dict)


OnExecution = Callable[[dict[str, Any]], None]


def check_image(engine: DockerEngine, tag: str) -> ImageInfo:
    """The image, if it holds this pdee's runtime.

    Raises:
        ImageError: missing, or built from other runtime code.
    """
    info = engine.image(tag)
    expected = fingerprint()
    if info.runtime_fingerprint != expected:
        raise ImageError(
            f"image {tag} holds runtime {info.runtime_fingerprint or 'unknown'}, this pdee "
            f"needs {expected}; rebuild it with `make image`"
        )
    return info


def python_note(python: str, base_image: str | None) -> str | None:
    """A warning when the EE's Python is not the platform's."""
    if python.startswith(PLATFORM_PYTHON + "."):
        return None
    return (
        f"the EE runs Python {python} (base image {base_image or 'unknown'}), the platform "
        f"runs {PLATFORM_PYTHON}: build the image FROM python:3.12-slim where you can "
        f"(make image BASE_IMAGE=python:3.12-slim)"
    )


class Runner:
    """Carries out one plan."""

    def __init__(
        self, engine: DockerEngine, plan: RunPlan, on_execution: OnExecution | None = None
    ):
        self.engine = engine
        self.plan = plan
        self.on_execution = on_execution or (lambda _record: None)
        self.run_id = uuid.uuid4().hex[:12]
        self.spec = EESpec(plan.image, plan.tmp_size_bytes, plan.memory_bytes, plan.network)
        self.scheduler = Scheduler(plan.mode)
        self.rng = random.Random(plan.seed)
        self.workflow = Workflow.create(self.rng, plan.steps[-1].name)
        self.live: dict[str, EE] = {}
        self.clock_s = 0.0
        self.result = RunResult(run_id=self.run_id, settings={})

    def settings(self, image: ImageInfo) -> dict[str, Any]:
        """The report's settings; ``python`` is filled in when the first EE says hello."""
        plan = self.plan
        settings: dict[str, Any] = {
            "mode": plan.mode.value,
            "tmp_size_bytes": plan.tmp_size_bytes,
            "memory_bytes": plan.memory_bytes,
            "container_memory_bytes": self.spec.container_memory_bytes,
            "timeout_s": plan.timeout_s,
            "python": None,
            "python_note": None,
            "image": image.tag,
            "image_id": image.id,
            "base_image": image.base_image,
            "network": plan.network,
            "executions": plan.executions,
            "steps": [step.name for step in plan.steps],
            "seed": plan.seed,
            "pdee_version": __version__,
            "run_id": self.run_id,
        }
        return settings

    def run(self) -> RunResult:
        """Run every execution of the plan.

        Raises:
            ImageError, UsageError: before any container starts.
            EEError: an EE could not start.
        """
        image = check_image(self.engine, self.plan.image)
        self.engine.check_network(self.plan.network)
        self.result.settings = self.settings(image)
        try:
            for index in range(self.plan.executions):
                decision = self.scheduler.arrive(index, self.clock_s)
                record = self.execute(decision)
                self.clock_s += record["duration_ms"] / 1000
                for retirement in self.scheduler.finish(
                    decision.ee, self.clock_s, broken=record.pop("_broken")
                ):
                    self.retire(retirement)
                self.result.executions.append(record)
                self.on_execution(record)
        finally:
            with deferred():  # a second Ctrl-C must not cut the clean-up short
                for retirement in self.scheduler.end(self.clock_s):
                    self.retire(retirement)
                for ee in self.live.values():
                    ee.destroy()
                self.engine.remove_containers(self.run_id)
        return self.result

    def start_ee(self, ee_id: str) -> EE:
        ee = self.engine.ee(self.spec, self.run_id, ee_id)
        self.live[ee_id] = ee
        hello = ee.start()
        if self.result.settings.get("python") is None:
            python = str(hello.get("python"))
            self.result.settings["python"] = python
            base = self.result.settings["base_image"]
            self.result.settings["python_note"] = python_note(python, base)
        ee.request(
            {
                "type": "load",
                "steps": [{"name": step.name, "code": step.code} for step in self.plan.steps],
                "inputs": self.plan.inputs,
                "memory_bytes": self.plan.memory_bytes,
                "timeout_s": self.plan.timeout_s,
            },
            timeout_s=60,
        )
        self.result.ees[ee_id] = {"id": ee_id, "started_at_s": self.clock_s, "executions": []}
        return ee

    def execute(self, decision: Decision) -> dict[str, Any]:
        started = time.perf_counter()
        ee = self.live.get(decision.ee)
        cold_start_ms = None
        if ee is None:
            ee = self.start_ee(decision.ee)
            cold_start_ms = round((time.perf_counter() - started) * 1000, 3)
        events = self.plan.events
        event = (
            events[decision.index % len(events)]
            if events
            else default_event(decision.index, self.workflow.endpoint)
        )
        message = {
            "type": "run",
            "index": decision.index,
            "event": event,
            "context": context(self.workflow, self.rng),
        }
        broken = False
        try:
            reply = ee.request(message, timeout_s=self.plan.timeout_s + REPLY_GRACE_S)
        except EEGone as gone:
            broken = True
            reply = {
                "status": "oom" if gone.oom_killed else "error",
                "error": {
                    "type": "OutOfMemory" if gone.oom_killed else "EEGone",
                    "message": str(gone),
                    "step": None,
                    "traceback": None,
                },
                "duration_ms": (time.perf_counter() - started) * 1000,
            }
        self.result.ees[decision.ee]["executions"].append(decision.index)
        return execution_record(decision, reply, cold_start_ms, broken)

    def retire(self, retirement: Retirement) -> None:
        ee = self.live.pop(retirement.ee, None)
        if ee is not None:
            ee.destroy()
        life = self.result.ees.get(retirement.ee)
        if life is not None:
            life["retired_at_s"] = retirement.at_s
            life["retired"] = retirement.reason.value


def execution_record(
    decision: Decision, reply: dict[str, Any], cold_start_ms: float | None, broken: bool
) -> dict[str, Any]:
    """The report's record of one execution, from the scheduler's decision and the EE's reply."""
    notes = []
    for step in reply.get("restarted_steps", []):
        notes.append(
            f"step {step!r}'s process was restarted (the last one was killed); "
            f"/tmp was kept, module globals were not"
        )
    if reply.get("platform_files_intact") is False:
        notes.append(
            "a step deleted the platform's files in /tmp/__pdg__: on the platform, later "
            "executions in this EE fail once a step process restarts"
        )
    return {
        "index": decision.index,
        "ee": decision.ee,
        "start": decision.start.value,
        "at_s": round(decision.at_s, 6),
        "status": reply["status"],
        "error": reply.get("error"),
        "exit_reason": reply.get("exit_reason"),
        "respond": reply.get("respond"),
        "steps": reply.get("steps", {}),
        "tmp": reply.get("tmp"),
        "memory": reply.get("memory"),
        "duration_ms": round(reply["duration_ms"], 3),
        "cold_start_ms": cold_start_ms,
        "restarted_steps": reply.get("restarted_steps", []),
        "notes": notes,
        "_broken": broken,
    }


def run_plan(
    engine: DockerEngine, plan: RunPlan, on_execution: OnExecution | None = None
) -> RunResult:
    """Run ``plan`` on ``engine``; see ``Runner``."""
    return Runner(engine, plan, on_execution).run()
