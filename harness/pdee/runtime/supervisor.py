"""The supervisor: the long-lived process of an EE that pdee talks to.

It reads one message per line on stdin and answers on stdout:

- ``load``: the workflow's steps (name, code, ``pd.inputs``, data store props) and the
  limits. It writes each step's code where the platform does (``/tmp/__pdg__/dist/code/
  <sha256>/code.py``, so it counts against the /tmp cap) and starts one worker per step.
  A step pdee does not run (another language, a registry action) comes as a stand-in
  with the return value the user gave it; it has no code and no worker.
- ``run``: one execution: the trigger's event and context. The steps run in order,
  each in its worker; the reply is the execution's result.
- ``reset``: make the EE new again for a recycled cold start (``recycle``); a ``load``
  follows.

At the end of its input (pdee removes the container, or closes the stream) it ends
the workers and exits. The messages are declared in ``protocol``.

The step's memory limit is enforced here, not by the container: the EE's memory, less
/tmp's pages (``usage.MemoryMeter``), is sampled every few milliseconds and the step
killed past the limit, so that /tmp (tmpfs, which the kernel charges to the container)
never counts as step memory. /tmp's use is sampled with it, for its peak.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from functools import partial

from . import clock, protocol, sandbox, usage
from .steps import PAYLOAD_LIMIT_BYTES, StepProcess, StepSpec, StepWait, spawn

TYPE_CHECKING = False  # typing is not imported at run time: the EE starts faster
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO, Any

    from .blobs import BlobServer
    from .protocol import Answer, DebugSetup, Error, Load, Ready, Result, Run, Swept
    from .relay import EndPoint

SAMPLE_INTERVAL_S = 0.01
# Under --debug-port a step's process starts its debug server before it imports the step
# (about a second on a cold EE): that start, and the import with it, are not counted
# against the execution's timeout, up to this long.
DEBUG_LOAD_GRACE_S = 30.0


def install_packages(tmp_used: Callable[[], int]) -> int:
    """Put the workflow's packages where the platform does, in /tmp; the bytes they take
    there (``tmp_used``: /tmp's used bytes now, read before and after).

    An image made for a package set holds them installed, as one archive
    (``/opt/pdee/packages.tar``); an EE unpacks it into its own /tmp at start, so they
    count against its cap, as on the platform. A cold start pays the unpacking (GNU tar:
    one stream; modes and times kept); a warm one finds them there.
    """
    archive = protocol.PREINSTALLED_ARCHIVE
    if not os.path.isfile(archive) or os.path.exists(protocol.PACKAGES_DIR):
        return 0
    before = tmp_used()
    os.makedirs(protocol.PACKAGES_DIR)
    unpack = ["tar", "-x", "-p", "-f", archive, "-C", protocol.PACKAGES_DIR]
    done = subprocess.run(unpack, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if done.returncode != 0:  # as a failed copy did: the EE does not load
        raise OSError(f"unpacking the packages into /tmp: {done.stderr.decode(errors='replace')}")
    return tmp_used() - before


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f}MB"


class Ended(Exception):
    """The step did not reply: it timed out, ran out of memory or its process died."""

    def __init__(self, status: protocol.Status, error: Error) -> None:
        super().__init__(error["message"])
        self.status = status
        self.error = error


class Supervisor:
    """Runs the executions of one EE, one at a time."""

    def __init__(self, user: Any = None, link_local: str = "open") -> None:
        self.user = user  # the platform's user (pwd entry) the steps run as, if separated
        # Tells pdee which step runs and what it prints, so that an EE that dies under a
        # step is laid at its door, with the step's logs.
        self.notify: Callable[[protocol.StepStarted | protocol.Log], None] = lambda _m: None
        # Carries a step's call (a data store operation) to pdee and returns its answer.
        self.call: Callable[[dict[str, Any]], Answer] = lambda _call: {
            "type": protocol.ANSWER,
            "answer": {"error": "no data store service: the runtime runs outside pdee"},
        }
        self.blob_server: BlobServer | None = None  # started by the first upload
        self.link_local = link_local  # "blocked" or "open"
        self.specs: list[StepSpec] = []
        self.workers: dict[str, StepProcess] = {}
        self.memory_bytes = 256 * 2**20
        self.timeout_s = 30.0
        self.env: dict[str, str] = {}
        self.measure = True  # the peaks; off only to measure what measuring costs
        self.meter = usage.MemoryMeter()
        # The steps' wall clock is the real one plus this: the virtual clock's lead, set
        # per execution from its ``clock_ts``. None: the real clock (``serve``).
        self.clock_offset: float | None = None
        # Where this execution's flow URLs answer (``Run.flow_url``); None: pdee's own.
        self.flow_url: str | None = None
        # Under --debug-port (``Load.debug``): the steps' debug servers, and the relay's
        # end that carries a debugger's streams to them, started by ``start_relay``.
        self.debug: DebugSetup | None = None
        self.relay: EndPoint | None = None
        self.start_relay: Callable[[], EndPoint] | None = None
        self.held_s = 0.0  # how long a debugger held the execution stopped, so far
        self.debug_load_s = 0.0  # how long steps' processes took to start under it, so far

    # -- messages -------------------------------------------------------------------

    def hello(self) -> protocol.Hello:
        tmp = usage.tmp_usage("/tmp", tmp_fd=self.meter.tmp_fd)
        return {
            "type": protocol.HELLO,
            "protocol": protocol.PROTOCOL_VERSION,
            "python": "{}.{}.{}".format(*sys.version_info[:3]),
            "tmp_size_bytes": tmp.size_bytes,
            "memory_source": self.meter.source,
            "separated": self.user is not None,  # steps cannot signal or trace the runtime
            "link_local": self.link_local,
            "clock": clock.probe(),  # time-machine, or time-only (the fallback)
        }

    def load(self, message: Load) -> Ready:
        self.memory_bytes = int(message["memory_bytes"])
        self.timeout_s = float(message["timeout_s"])
        self.env = {str(k): str(v) for k, v in message["env"].items()}
        self.measure = message["measure"]
        self.debug = message.get("debug")
        if self.debug is not None and self.relay is None and self.start_relay is not None:
            self.relay = self.start_relay()
        ports = self.debug["ports"] if self.debug is not None else {}
        paths = self.debug["paths"] if self.debug is not None else {}
        # The virtual instant the EE starts, for the steps' imports; none: the real clock.
        clock_ts = message.get("clock_ts")
        self.clock_offset = None if clock_ts is None else float(clock_ts) - time.time()
        self.specs = []
        for step in message["steps"]:
            if "stand_in" in step:
                value = step["return_value"]
                self.specs.append(StepSpec(step["name"], "", "", stand_in=True, return_value=value))
                continue
            path = protocol.code_path(step["code_hash"])  # sha256, made by pdee: no hashlib
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as out:
                out.write(step["code"].encode())
            self.specs.append(
                StepSpec(
                    step["name"],
                    path,
                    step["source"] or path,
                    step["inputs"],
                    step["stores"],
                    action=step.get("action"),
                    debug=(
                        {"port": ports[step["name"]], "client_path": paths[step["name"]]}
                        if step["name"] in ports and step["name"] in paths
                        else None
                    ),
                    expressions=step.get("expressions"),
                )
            )
        packages_bytes = install_packages(self.meter.tmp_used)
        for spec in self.specs:
            if not spec.stand_in:
                self.workers[spec.name] = self.spawn(spec)
        return {"type": protocol.READY, "packages_bytes": packages_bytes}

    def run(self, message: Run) -> Result:
        waited_s = self.wait_for_debuggers() if message.get("debug_wait") else 0.0
        self.held_s = self.debug_load_s = 0.0
        started = time.monotonic()
        clock_ts = message.get("clock_ts")  # the execution's virtual start, Unix seconds
        if clock_ts is not None:  # one offset per execution: later steps see it move on
            self.clock_offset = float(clock_ts) - time.time()
        self.flow_url = message.get("flow_url")
        deadline = started + self.timeout_s
        event = message["event"]
        blobs = message.pop("blobs", None)  # out of the message: its text goes once held
        if blobs:  # bodies the step downloads by URL, this execution only
            if self.blob_server is None:
                from .blobs import BlobServer  # http.server: imported by an upload only

                self.blob_server = BlobServer()
            self.blob_server.hold(blobs)
            # Held in memory files, the runtime's: not counted as the step's memory.
            self.meter.runtime_bytes = self.blob_server.held_bytes
            event = self.blob_server.rewrite(event)
        del blobs
        trigger = {"event": event, "context": message["context"]}
        # A resumed part (after pd.flow.delay, suspend or rerun) starts at a later step,
        # with what the earlier parts' steps returned and exported.
        start = int(message.get("start_step", 0))
        steps: dict[str, Any] = {**(message.get("prior_steps") or {}), "trigger": trigger}
        run_info = message.get("run")  # pd.context["run"] of the first step, when rerun
        pause: protocol.Pause | None = None
        emails: list[protocol.Email] = []
        results: dict[str, protocol.StepOutcome] = {}
        status: protocol.Status = "ok"
        error: Error | None = None
        respond: dict[str, Any] | None = None
        exit_reason: str | None = None
        peak = 0
        restarted: dict[str, str] = {}  # step: how its last process ended
        stray: dict[str, int] = {}  # lines a step wrote to its reply channel
        tmp_peak = 0
        if self.measure:
            for live in self.workers.values():
                live.peak.reset()
        event_bytes = len(json.dumps(trigger["event"]))
        if event_bytes > PAYLOAD_LIMIT_BYTES:  # over before any step: none runs
            status, error = "error", self.payload_error(event_bytes, None)
        for spec in self.specs[start:] if error is None else ():
            if spec.stand_in:  # a step pdee does not run: what the user said it returns
                results[spec.name] = {
                    "return_value": spec.return_value,
                    "exports": {},
                    "logs": "",
                    "duration_ms": 0.0,
                    "stand_in": True,
                }
                steps[spec.name] = {"$return_value": spec.return_value}
                continue
            worker = self.workers.get(spec.name)
            if worker is None or not worker.alive():
                worker = self.spawn(spec, replaces=worker)
                self.workers[spec.name] = worker
            if worker.restarted is not None and worker.served == 0:
                restarted[spec.name] = worker.restarted
            worker.served += 1
            self.notify({"type": protocol.STEP, "index": message.get("index"), "name": spec.name})
            wait = StepWait()
            step_started = time.monotonic()
            try:
                outcome = self.run_step(worker, steps, deadline, wait, run_info)
                run_info = None  # the later steps of the part run once each
            except Ended as ended:
                status, error, outcome = ended.status, {**ended.error, "step": spec.name}, None
            peak = max(peak, wait.peak_bytes)
            tmp_peak = max(tmp_peak, wait.tmp_peak_bytes)
            step_result: protocol.StepOutcome = {
                "return_value": None,
                "exports": {},
                "logs": wait.logs.decode(errors="replace"),
                "stderr_lines": wait.stderr_lines,
                "duration_ms": round((time.monotonic() - step_started) * 1000, 3),
            }
            if wait.truncated:
                step_result["logs_truncated"] = True
            if worker.stray:
                stray[spec.name], worker.stray = worker.stray, 0
            results[spec.name] = step_result
            if outcome is None:
                break
            step_result["return_value"] = outcome["return_value"]
            step_result["exports"] = outcome["exports"]
            if outcome.get("tmp_opened"):
                step_result["tmp_opened"] = outcome["tmp_opened"]
            steps[spec.name] = {"$return_value": outcome["return_value"], **outcome["exports"]}
            if outcome["respond"] is not None:
                respond = outcome["respond"]
            emails += [{"step": spec.name, **email} for email in outcome["emails"]]
            if outcome["error"] is not None:
                status, error = "error", {**outcome["error"], "step": spec.name}
                break
            if outcome["exit"] is not None:
                status, exit_reason = "exit", outcome["exit"]["reason"]
                break
            if outcome["pause"] is not None:  # the workflow pauses after this step
                pause = {**outcome["pause"], "step": spec.name}
                break
        over = self.payload_over(event_bytes, results)
        if status in ("ok", "exit") and over is not None:
            status, error = "error", self.payload_error(over[1], over[0])
        code = tuple(spec.path for spec in self.specs if not spec.stand_in)
        tmp = usage.tmp_usage("/tmp", code, self.meter.tmp_fd)
        result: Result = {
            "type": protocol.RESULT,
            "index": message.get("index"),
            "status": status,
            "error": error,
            "steps": results,
            "respond": respond,
            "exit_reason": exit_reason,
            "pause": pause if status == "ok" else None,
            "emails": emails,
            "tmp": {
                "used_bytes": tmp.used_bytes,
                "peak_used_bytes": max(tmp_peak, tmp.used_bytes),
                "files": tmp.files,
                "some_files": tmp.some_files,
                "size_bytes": tmp.size_bytes,
            },
            "platform_files_intact": tmp.platform_files_intact,
            "memory": {"peak_bytes": peak, "limit_bytes": self.memory_bytes},
            "restarted_steps": list(restarted),
            "restart_reasons": restarted,
            "stray_lines": stray,
            "duration_ms": round((time.monotonic() - started) * 1000, 3),
        }
        if self.debug is not None:
            result["debug"] = {
                "held_ms": round(self.held_s * 1000, 3),
                "waited_ms": round(waited_s * 1000, 3),
            }
        self.respawn_dead_workers()
        if self.blob_server is not None:
            self.blob_server.clear()
            self.meter.runtime_bytes = 0
        return result

    def wait_for_debuggers(self) -> float:
        """Wait until a debugger is attached to every step's debug server (the first
        execution under --debug-port does); the seconds it took. No timeout: the user
        attaches, or ends the run."""
        started = time.monotonic()
        relay, debug = self.relay, self.debug
        if relay is None or debug is None:
            return 0.0
        while not all(relay.configured(port) for port in debug["ports"].values()):
            time.sleep(0.02)
        return time.monotonic() - started

    def take(self, message: protocol.ToRuntime) -> protocol.Reply:
        """Carry out one message from pdee; its reply."""
        if message["type"] == protocol.LOAD:
            return self.load(message)
        if message["type"] == protocol.RUN:
            return self.run(message)
        if message["type"] == protocol.RESET:
            return self.reset()
        return {"type": protocol.FATAL, "message": f"unknown message {message['type']!r}"}

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.kill()
        self.workers.clear()

    def reset(self) -> Swept:
        """Make this EE what a new one is, to the next step (``recycle``): the steps'
        processes and all they started killed, /tmp emptied, the upload server closed.
        pdee then loads the workflow again, as at a start. ``clean`` says whether it
        could; if not, pdee destroys the EE."""
        self.stop()
        if self.blob_server is not None:
            self.blob_server.clear()
            self.blob_server.shutdown()
            self.blob_server.server_close()
            self.blob_server = None
            self.meter.runtime_bytes = 0
        if self.user is None or os.getppid() != 1:  # not an EE's runtime: kill nothing
            why: str | None = "the runtime is not an EE's own (steps not separated from it)"
        else:
            from . import recycle  # imported by a recycling only

            why = recycle.sweep()
        return {"type": protocol.RESET, "clean": why is None, "why": why}

    # -- step processes ---------------------------------------------------------------

    def spawn(self, spec: StepSpec, replaces: StepProcess | None = None) -> StepProcess:
        if replaces is not None:
            replaces.kill()  # reap it and close its pipes
        return spawn(spec, self.env, self.user, replaces, self.clock_offset)

    def respawn_dead_workers(self) -> None:
        """Restart, keeping /tmp, the step processes that an execution killed."""
        for spec in self.specs:
            worker = self.workers.get(spec.name)
            if worker is not None and not worker.alive():
                self.workers[spec.name] = self.spawn(spec, replaces=worker)

    def run_step(
        self,
        worker: StepProcess,
        steps: dict[str, Any],
        deadline: float,
        wait: StepWait,
        run_info: protocol.RerunInfo | None = None,
    ) -> protocol.Outcome:
        """Run one step in ``worker``; the step's reply, or ``Ended`` if it gave none."""
        if not worker.loaded:
            load_started = time.monotonic()
            grace = DEBUG_LOAD_GRACE_S if self.debug is not None else 0.0
            loaded = self.await_reply(worker, deadline + grace, wait)
            if grace:
                self.debug_load_s += time.monotonic() - load_started
            if loaded["type"] != protocol.LOADED:
                raise self.out_of_turn(worker, loaded["type"])
            if loaded["error"] is not None:
                worker.ended = "its code failed to load"
                worker.kill()
                return {
                    "return_value": None,
                    "exports": {},
                    "exit": None,
                    "pause": None,
                    "emails": [],
                    "respond": None,
                    "error": loaded["error"],
                    "duration_ms": 0.0,
                }
            worker.loaded = True
        worker.ask_invoke(steps, self.measure, run_info, self.clock_offset, self.flow_url)
        done = self.await_reply(worker, deadline, wait)
        if done["type"] != protocol.DONE:
            raise self.out_of_turn(worker, done["type"])
        return done

    def out_of_turn(self, worker: StepProcess, kind: str) -> Ended:
        """End a step whose process replied with another kind of message than the one
        due (only the step itself could forge one: it knows the request's id)."""
        worker.ended = f"it replied {kind!r} out of turn"
        worker.kill()
        return Ended(
            "error",
            {
                "type": "StepProcessExited",
                "message": f"the process of step {worker.spec.name!r} replied {kind!r} out of turn",
                "traceback": None,
            },
        )

    def await_reply(
        self, worker: StepProcess, deadline: float, wait: StepWait
    ) -> protocol.Loaded | protocol.Done:
        """Wait for the worker's next message, gathering its logs and peaks meanwhile.

        Raises:
            Ended: the deadline passed, the step went over its memory limit, or its
                process died without replying.
        """
        # The first sample waits an interval: a quick step is sampled once, at its reply.
        next_sample = time.monotonic() + SAMPLE_INTERVAL_S
        fds = [worker.replies_fd, *worker.log_fds]
        relay, last = self.relay, time.monotonic()
        while True:
            now = time.monotonic()
            if now >= next_sample:
                self.sample(worker, wait, self.meter.current())
                next_sample = now + SAMPLE_INTERVAL_S
            if relay is not None:  # the timeout does not run while a debugger holds the step
                if relay.held():
                    self.held_s += now - last
                last = now
                deadline_now = deadline + self.held_s + self.debug_load_s
            else:
                deadline_now = deadline
            if now >= deadline_now:
                self.end_step(worker, "it was killed at the timeout")
                raise Ended("timeout", self.timeout_error())
            wait_s = min(next_sample, deadline_now) - now
            ready, _, _ = select.select(fds, [], [], wait_s)
            if any(fd in ready for fd in worker.log_fds):
                self.drain_logs(worker, wait)
            if worker.replies_fd in ready:
                message = worker.read_reply()
                if message is not None and message["type"] == protocol.CALL:
                    worker.answer(self.call(message["call"]))
                elif message is not None:
                    self.drain_logs(worker, wait)
                    used = self.meter.current()
                    if self.measure:  # what it held between samples; /tmp before removals
                        used = max(used, worker.peak.peak())
                        if message["type"] == protocol.DONE:
                            peak = message["tmp_peak_bytes"]
                            wait.tmp_peak_bytes = max(wait.tmp_peak_bytes, peak)
                    self.sample(worker, wait, used, tmp=False)  # /tmp is measured at the end
                    return message
                elif not worker.alive():
                    self.drain_logs(worker, wait)
                    raise Ended(*self.death(worker))

    def sample(self, worker: StepProcess, wait: StepWait, used: int, tmp: bool = True) -> None:
        """Take in one reading of step memory (and of /tmp); past the limit, end the step.

        Raises:
            Ended: ``used`` is over the memory limit: the step is killed.
        """
        wait.peak_bytes = max(wait.peak_bytes, used)
        if self.measure and tmp:
            wait.tmp_peak_bytes = max(wait.tmp_peak_bytes, self.meter.tmp_used())
        if used > self.memory_bytes:
            self.end_step(worker, "it was killed over the memory limit")
            self.drain_logs(worker, wait)
            raise Ended("oom", self.oom_error(worker.spec.name, used))

    def end_step(self, worker: StepProcess, why: str) -> None:
        """Kill a step that ran out of time or memory, and whatever it left running
        outside its session; the other steps' processes live on."""
        worker.ended = why
        worker.kill()
        sessions = {w.process.pid for w in self.workers.values() if w.alive()}
        for pid, session in usage.sessions().items():
            if pid not in (1, os.getpid()) and session not in sessions:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def drain_logs(self, worker: StepProcess, wait: StepWait) -> None:
        """Take in what the step printed; pdee gets it at once too, so that it keeps the
        logs of a step whose EE dies before the execution's result."""
        text = worker.read_output(wait)
        if text:
            self.notify({"type": protocol.LOG, "name": worker.spec.name, "data": text})

    # -- errors, as the platform names them -------------------------------------------

    def oom_error(self, step: str, used: int) -> Error:
        return {
            "type": "OutOfMemory",
            "message": (
                f"Out of Memory: the EE's processes held {_mb(used)} during step {step!r}, "
                f"over the {_mb(self.memory_bytes)} memory limit; raise it with --memory "
                f"(the platform allows up to 10GB)"
            ),
            "traceback": None,
        }

    def timeout_error(self) -> Error:
        return {
            "type": "Timeout",
            "message": (
                f"the execution ran past {self.timeout_s:g} s; raise it with "
                f"--timeout (the platform allows up to 750 s)"
            ),
            "traceback": None,
        }

    def death(self, worker: StepProcess) -> tuple[protocol.Status, Error]:
        """Why a step's process ended without replying, as a status and an error."""
        code = worker.process.wait()
        worker.kill()
        if code == -signal.SIGKILL:
            worker.ended = "it was killed by the kernel, out of memory"
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
    def payload_over(
        event_bytes: int, results: dict[str, protocol.StepOutcome]
    ) -> tuple[str, int] | None:
        """The step after which the execution's payload (the event, and each step's logs,
        exports and return value) went over the platform's limit, and its size then."""
        total = event_bytes
        for name, result in results.items():
            total += len(result["logs"].encode()) + len(json.dumps(result["exports"]))
            total += len(json.dumps(result["return_value"]))
            if total > PAYLOAD_LIMIT_BYTES:
                return name, total
        return None

    @staticmethod
    def payload_error(payload: int, step: str | None) -> Error:
        """The platform's error for an execution whose payload is over its limit after
        ``step`` (None: the event alone is)."""
        what = (
            f"the event alone is {_mb(payload)}"
            if step is None
            else f"the event, logs, exports and return values add up to {_mb(payload)} after "
            f"step {step!r}"
        )
        return {
            "type": "FunctionPayloadLimitExceeded",
            "message": (
                f"Function Payload Limit Exceeded: {what}, over the platform's 6MB; keep "
                f"large data in /tmp or in a data store"
            ),
            "step": step,
            "traceback": None,
        }


def main(argv: list[str] | None = None) -> None:
    """Serve pdee over stdin/stdout until the end of input.

    Started as root (as pdee starts it), it first blocks link-local egress if
    ``--block-link-local`` is given, then becomes the platform's user (``sandbox``).
    """
    args = sys.argv[1:] if argv is None else argv
    user, link_local = None, "open"
    if os.geteuid() == 0:
        if "--block-link-local" in args:
            sandbox.block_egress()
            link_local = "blocked"
        user = sandbox.become_platform_user()
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt replies
    serve(Supervisor(user, link_local), sys.stdin.buffer, replies)


def serve(supervisor: Supervisor, requests: IO[bytes], replies: IO[bytes]) -> None:
    """Say hello on ``replies``, then answer each message on ``requests`` there until
    the end of input. Progress goes out on ``replies`` too, and so do the steps' calls,
    whose answers come back on ``requests``."""
    send: Callable[[Any], None] = partial(protocol.send, replies)
    readline: Callable[[], bytes] = requests.readline

    def start_relay() -> EndPoint:
        """Under --debug-port: a thread reads the requests (relay frames are taken in at
        once, while a step runs) and the replies go out one whole message at a time."""
        nonlocal send, readline
        from . import relay  # imported under --debug-port only

        send = relay.LockedWriter(replies).send
        end = relay.EndPoint(send)
        readline = relay.Lines(requests, end.take).readline
        return end

    supervisor.start_relay = start_relay
    supervisor.notify = lambda message: send(message)

    def call(request: dict[str, Any]) -> Answer:
        send({"type": protocol.CALL, "call": request})
        line = readline()
        if not line:
            return {"type": protocol.ANSWER, "answer": {"error": "pdee went away"}}
        answer: Answer = protocol.decode(line)
        return answer

    supervisor.call = call
    send(supervisor.hello())
    try:
        while True:
            line = readline()
            if not line:
                break
            try:
                message = protocol.decode(line)
            except ValueError as exc:
                send({"type": protocol.FATAL, "message": str(exc)})
                continue
            # The line goes before the message is carried out: a run's uploaded bodies
            # in it would otherwise stay in the runtime's memory while the steps run.
            del line
            send(supervisor.take(message))
            del message
    finally:
        supervisor.stop()
        if supervisor.relay is not None:
            supervisor.relay.close()
