"""The supervisor: the long-lived process of an EE that pdee talks to.

It reads one message per line on stdin and answers on stdout:

- ``load``: the workflow's steps (name and code), ``pd.inputs`` and the limits. It
  writes each step's code where the platform does (``/tmp/__pdg__/dist/code/<sha256>/
  code.py``, so it counts against the /tmp cap) and starts one worker per step.
- ``run``: one execution: the trigger's event and context. The steps run in order,
  each in its worker; the reply is the execution's result.

At the end of its input (pdee removes the container, or closes the stream) it ends
the workers and exits.

The step's memory limit is enforced here, not by the container: the worker's session
is sampled every few milliseconds and killed past the limit, so that /tmp (tmpfs,
which the kernel charges to the container) never counts as step memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import IO, Any

from . import PROTOCOL_VERSION, protocol, usage

SAMPLE_INTERVAL_S = 0.01
# The platform's limit on logs + step exports + event of one execution.
PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024
LOG_LIMIT_BYTES = PAYLOAD_LIMIT_BYTES + 1


def _package_root_parent() -> str:
    """The directory to put on a worker's PYTHONPATH so ``-m <package>.worker`` works."""
    path = os.path.dirname(os.path.abspath(__file__))
    for _ in (__package__ or "").split("."):
        path = os.path.dirname(path)
    return path


RUNTIME_PARENT = _package_root_parent()


def install_packages() -> int:
    """Put the workflow's packages where the platform does, in /tmp; the bytes they take.

    An image made for a package set holds them installed under ``/opt/pdee/packages``;
    an EE copies them into its own /tmp at start, so they count against its cap, as on
    the platform. A cold start pays the copy; a warm one finds them there.
    """
    if not os.path.isdir(protocol.PREINSTALLED_DIR) or os.path.exists(protocol.PACKAGES_DIR):
        return 0
    before = usage.tmp_usage("/tmp").used_bytes
    shutil.copytree(protocol.PREINSTALLED_DIR, protocol.PACKAGES_DIR, symlinks=True)
    return usage.tmp_usage("/tmp").used_bytes - before


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f}MB"


@dataclass
class StepSpec:
    """One step of the workflow: its name (the file's stem) and where its code is."""

    name: str
    path: str


@dataclass
class Worker:
    """A running step process and the supervisor's ends of its pipes."""

    spec: StepSpec
    process: subprocess.Popen[bytes]
    requests: IO[bytes]
    replies_fd: int
    logs_fd: int
    restarted: bool
    loaded: bool = False
    served: int = 0
    pending: bytearray = field(default_factory=bytearray)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """Kill the step and every process it started (its whole session)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        for fd in (self.replies_fd, self.logs_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self.requests.close()
        except OSError:
            pass


class Ended(Exception):
    """The step did not reply: it timed out, ran out of memory or its process died."""

    def __init__(self, status: str, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.status = status
        self.error = error


@dataclass
class StepWait:
    """What waiting for one step gathered: its logs and its peak memory."""

    logs: bytearray = field(default_factory=bytearray)
    peak_bytes: int = 0
    truncated: bool = False

    def add_logs(self, data: bytes) -> None:
        room = LOG_LIMIT_BYTES - len(self.logs)
        if len(data) > room:
            self.truncated = True
        self.logs += data[: max(room, 0)]


class Supervisor:
    """Runs the executions of one EE, one at a time."""

    def __init__(self) -> None:
        self.specs: list[StepSpec] = []
        self.workers: dict[str, Worker] = {}
        self.inputs: dict[str, Any] = {}
        self.memory_bytes = 256 * 2**20
        self.timeout_s = 30.0

    # -- messages -------------------------------------------------------------------

    def hello(self) -> dict[str, Any]:
        tmp = usage.tmp_usage("/tmp")
        return {
            "type": "hello",
            "protocol": PROTOCOL_VERSION,
            "python": platform.python_version(),
            "tmp_size_bytes": tmp.size_bytes,
        }

    def load(self, message: dict[str, Any]) -> dict[str, Any]:
        self.inputs = message.get("inputs") or {}
        self.memory_bytes = int(message["memory_bytes"])
        self.timeout_s = float(message["timeout_s"])
        self.specs = []
        for step in message["steps"]:
            code = step["code"].encode()
            path = protocol.code_path(hashlib.sha256(code).hexdigest())
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as out:
                out.write(code)
            self.specs.append(StepSpec(step["name"], path))
        packages_bytes = install_packages()
        for spec in self.specs:
            self.workers[spec.name] = self.spawn(spec, restarted=False)
        return {"type": "ready", "packages_bytes": packages_bytes}

    def run(self, message: dict[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        deadline = started + self.timeout_s
        trigger = {"event": message["event"], "context": message["context"]}
        steps: dict[str, Any] = {"trigger": trigger}
        results: dict[str, Any] = {}
        status, error, respond, exit_reason, peak = "ok", None, None, None, 0
        restarted: list[str] = []
        for spec in self.specs:
            worker = self.workers.get(spec.name)
            if worker is None or not worker.alive():
                worker = self.spawn(spec, restarted=worker is not None)
                self.workers[spec.name] = worker
            if worker.restarted and worker.served == 0:
                restarted.append(spec.name)
            worker.served += 1
            wait = StepWait()
            step_started = time.monotonic()
            try:
                outcome = self.run_step(worker, steps, deadline, wait)
            except Ended as ended:
                status, error, outcome = ended.status, ended.error, None
            peak = max(peak, wait.peak_bytes)
            step_result: dict[str, Any] = {
                "return_value": None,
                "exports": {},
                "logs": wait.logs.decode(errors="replace"),
                "duration_ms": round((time.monotonic() - step_started) * 1000, 3),
            }
            if wait.truncated:
                step_result["logs_truncated"] = True
            results[spec.name] = step_result
            if outcome is None:
                error = {**(error or {}), "step": spec.name}
                break
            step_result["return_value"] = outcome["return_value"]
            step_result["exports"] = outcome["exports"]
            steps[spec.name] = {"$return_value": outcome["return_value"], **outcome["exports"]}
            if outcome["respond"] is not None:
                respond = outcome["respond"]
            if outcome["error"] is not None:
                status, error = "error", {**outcome["error"], "step": spec.name}
                break
            if outcome["exit"] is not None:
                status, exit_reason = "exit", outcome["exit"]["reason"]
                break
        payload = self.payload_bytes(trigger, results)
        if status in ("ok", "exit") and payload > PAYLOAD_LIMIT_BYTES:
            status = "error"
            error = {
                "type": "FunctionPayloadLimitExceeded",
                "message": (
                    f"Function Payload Limit Exceeded: logs, step exports and the event "
                    f"add up to {_mb(payload)}, over the platform's 6MB"
                ),
                "step": None,
                "traceback": None,
            }
        tmp = usage.tmp_usage("/tmp", tuple(spec.path for spec in self.specs))
        result = {
            "type": "result",
            "index": message.get("index"),
            "status": status,
            "error": error,
            "steps": results,
            "respond": respond,
            "exit_reason": exit_reason,
            "tmp": {"used_bytes": tmp.used_bytes, "files": tmp.files, "size_bytes": tmp.size_bytes},
            "platform_files_intact": tmp.platform_files_intact,
            "memory": {"peak_bytes": peak, "limit_bytes": self.memory_bytes},
            "restarted_steps": restarted,
            "duration_ms": round((time.monotonic() - started) * 1000, 3),
        }
        self.respawn_dead_workers()
        return result

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.kill()
        self.workers.clear()

    # -- workers --------------------------------------------------------------------

    def spawn(self, spec: StepSpec, restarted: bool) -> Worker:
        """Start a step's process, which imports the step's code at once."""
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        logs_r, logs_w = os.pipe()
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONPATH"] = RUNTIME_PARENT
        cwd = protocol.WORK_DIR if os.path.isdir(protocol.WORK_DIR) else "/"
        command = [
            sys.executable,
            "-m",
            f"{__package__}.worker",
            spec.name,
            spec.path,
            str(to_worker_r),
            str(from_worker_w),
        ]
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=logs_w,
            stderr=logs_w,
            pass_fds=(to_worker_r, from_worker_w),
            start_new_session=True,
            cwd=cwd,
            env=env,
        )
        for fd in (to_worker_r, from_worker_w, logs_w):
            os.close(fd)
        os.set_blocking(logs_r, False)
        os.set_blocking(from_worker_r, False)
        return Worker(
            spec=spec,
            process=process,
            requests=os.fdopen(to_worker_w, "wb"),
            replies_fd=from_worker_r,
            logs_fd=logs_r,
            restarted=restarted,
        )

    def respawn_dead_workers(self) -> None:
        """Restart, keeping /tmp, the step processes that an execution killed."""
        for spec in self.specs:
            worker = self.workers.get(spec.name)
            if worker is not None and not worker.alive():
                worker.kill()  # reap it and close its pipes
                self.workers[spec.name] = self.spawn(spec, restarted=True)

    def run_step(
        self, worker: Worker, steps: dict[str, Any], deadline: float, wait: StepWait
    ) -> dict[str, Any]:
        """Run one step in ``worker``; the step's reply, or ``Ended`` if it gave none."""
        if not worker.loaded:
            loaded = self.await_reply(worker, deadline, wait)
            if loaded.get("error") is not None:
                worker.kill()
                return {
                    "return_value": None,
                    "exports": {},
                    "exit": None,
                    "respond": None,
                    "error": loaded["error"],
                }
            worker.loaded = True
        try:
            protocol.send(worker.requests, {"steps": steps, "inputs": self.inputs})
        except BrokenPipeError:
            pass  # await_reply reports how the process ended
        return self.await_reply(worker, deadline, wait)

    def await_reply(self, worker: Worker, deadline: float, wait: StepWait) -> dict[str, Any]:
        """Wait for the worker's next message, gathering its logs and memory meanwhile.

        Raises:
            Ended: the deadline passed, the step went over its memory limit, or its
                process died without replying.
        """
        # The first sample waits an interval: a quick step is sampled once, at its reply.
        next_sample = time.monotonic() + SAMPLE_INTERVAL_S
        while True:
            now = time.monotonic()
            if now >= next_sample:
                used = usage.session_memory(worker.process.pid)
                wait.peak_bytes = max(wait.peak_bytes, used)
                next_sample = now + SAMPLE_INTERVAL_S
                if used > self.memory_bytes:
                    worker.kill()
                    self.drain_logs(worker, wait)
                    raise Ended("oom", self.oom_error(worker.spec.name, used))
            if now >= deadline:
                worker.kill()
                raise Ended("timeout", self.timeout_error())
            wait_s = min(next_sample, deadline) - now
            ready, _, _ = select.select([worker.replies_fd, worker.logs_fd], [], [], wait_s)
            if worker.logs_fd in ready:
                self.drain_logs(worker, wait)
            if worker.replies_fd in ready:
                message = self.read_reply(worker)
                if message is not None:
                    self.drain_logs(worker, wait)
                    used = usage.session_memory(worker.process.pid)
                    wait.peak_bytes = max(wait.peak_bytes, used)
                    return message
                elif not worker.alive():
                    self.drain_logs(worker, wait)
                    raise Ended(*self.death(worker))

    def read_reply(self, worker: Worker) -> dict[str, Any] | None:
        """One complete message from the worker, or None (not yet, or end of file)."""
        while b"\n" not in worker.pending:
            try:
                chunk = os.read(worker.replies_fd, 65536)
            except BlockingIOError:
                return None
            if not chunk:
                worker.process.wait()
                return None
            worker.pending += chunk
        line, _, rest = bytes(worker.pending).partition(b"\n")
        worker.pending = bytearray(rest)
        return protocol.decode(line)

    @staticmethod
    def drain_logs(worker: Worker, wait: StepWait) -> None:
        while True:
            try:
                chunk = os.read(worker.logs_fd, 65536)
            except (BlockingIOError, OSError):
                return
            if not chunk:
                return
            wait.add_logs(chunk)

    # -- errors, as the platform names them -------------------------------------------

    def oom_error(self, step: str, used: int) -> dict[str, Any]:
        return {
            "type": "OutOfMemory",
            "message": (
                f"Out of Memory: step {step!r} used {_mb(used)}, over the "
                f"{_mb(self.memory_bytes)} memory limit; raise it with --memory "
                f"(the platform allows up to 10GB)"
            ),
            "traceback": None,
        }

    def timeout_error(self) -> dict[str, Any]:
        return {
            "type": "Timeout",
            "message": (
                f"Timeout: the execution ran past {self.timeout_s:g} s; raise it with "
                f"--timeout (the platform allows up to 750 s)"
            ),
            "traceback": None,
        }

    def death(self, worker: Worker) -> tuple[str, dict[str, Any]]:
        """Why a step's process ended without replying, as a status and an error."""
        code = worker.process.wait()
        worker.kill()
        if code == -signal.SIGKILL:
            return "oom", {
                "type": "OutOfMemory",
                "message": (
                    f"Out of Memory: step {worker.spec.name!r} was killed by the kernel; "
                    f"the EE ran out of memory"
                ),
                "traceback": None,
            }
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        return "error", {
            "type": "StepProcessExited",
            "message": f"the process of step {worker.spec.name!r} ended with {how}",
            "traceback": None,
        }

    @staticmethod
    def payload_bytes(trigger: dict[str, Any], results: dict[str, Any]) -> int:
        total = len(json.dumps(trigger["event"]))
        for result in results.values():
            total += len(result["logs"].encode()) + len(json.dumps(result["exports"]))
        return total


def main() -> None:
    """Serve pdee over stdin/stdout until the end of input."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt replies
    supervisor = Supervisor()
    protocol.send(replies, supervisor.hello())
    try:
        for line in sys.stdin.buffer:
            message = protocol.decode(line)
            kind = message.get("type")
            if kind == "load":
                protocol.send(replies, supervisor.load(message))
            elif kind == "run":
                protocol.send(replies, supervisor.run(message))
            else:
                protocol.send(replies, {"type": "fatal", "message": f"unknown message {kind!r}"})
    finally:
        supervisor.stop()
