"""The step processes of an EE: one long-lived ``worker`` per step, and its pipes.

The supervisor starts each with ``spawn``, asks it for one thing at a time
(``StepProcess.ask_start``, ``StepProcess.ask_invoke``), reads its reply
(``StepProcess.read_reply``) and gathers what it prints (``StepWait``). A step's process
runs as the platform's user in a session of its own, so that killing it kills whatever
it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from . import protocol, usage

# Neither typing nor dataclasses at run time: the supervisor starts faster without them
# (about 20 ms of an EE's start, where each module costs a lookup through the image).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

    from .protocol import Answer, FromWorker, Invoke, RerunInfo, Start, StartDebug

# The platform's limit on logs + step exports + event of one execution.
PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024
LOG_LIMIT_BYTES = PAYLOAD_LIMIT_BYTES + 1
STDOUT, STDERR = "stdout", "stderr"


def _package_root_parent() -> str:
    """The directory to put on a worker's PYTHONPATH so ``-m <package>.worker`` works."""
    path = os.path.dirname(os.path.abspath(__file__))
    for _ in (__package__ or "").split("."):
        path = os.path.dirname(path)
    return path


RUNTIME_PARENT = _package_root_parent()


class StepSpec:
    """One step of the workflow: its name (in ``pd.steps``), where its code is, and its
    ``pd.inputs`` and data store props; or a stand-in for a step pdee does not run
    (another language, a registry action), which returns ``return_value`` unrun."""

    def __init__(
        self,
        name: str,
        path: str,
        source: str,  # the step's file as the user knows it, for tracebacks
        inputs: dict[str, Any] | None = None,
        stores: dict[str, str] | None = None,  # prop: the store's key
        stand_in: bool = False,
        return_value: Any = None,
        action: str | None = None,
        expressions: dict[str, Any] | None = None,  # props with {{ }} path expressions
        debug: StartDebug | None = None,  # its debug server, under --debug-port
    ) -> None:
        self.name, self.path, self.source = name, path, source
        self.inputs = inputs if inputs is not None else {}
        self.stores = stores if stores is not None else {}
        self.stand_in, self.return_value = stand_in, return_value
        self.action = action  # a registry action the step runs instead of code (its uses)
        self.expressions = expressions if expressions is not None else {}
        self.debug = debug

    def __repr__(self) -> str:
        return f"<StepSpec {self.name}{' (stand-in)' if self.stand_in else ''}>"


class StepProcess:
    """A running step process and the supervisor's ends of its pipes."""

    def __init__(
        self,
        spec: StepSpec,
        process: subprocess.Popen[bytes],
        requests: IO[bytes],
        replies_fd: int,
        log_fds: dict[int, str],  # the step's stdout and stderr pipes, and which is which
        peak: usage.ProcessPeak,
        restarted: str | None,  # how the process it replaces ended; None for the first
    ) -> None:
        self.spec, self.process, self.requests = spec, process, requests
        self.replies_fd, self.log_fds, self.peak = replies_fd, log_fds, peak
        self.restarted = restarted
        self.expected = ""  # the id the next reply must carry: a stray line cannot pass
        self.stray = 0  # lines on the reply channel that were not the reply awaited
        self.loaded = False
        self.served = 0
        self.pending = bytearray()
        self.ended: str | None = None  # how it ended, when the supervisor ended it or saw it die

    def __repr__(self) -> str:
        return f"<StepProcess {self.spec.name} pid {self.process.pid}>"

    def ask_start(self, clock_offset: float | None = None) -> None:
        """Ask the process to import the step (answered by ``Loaded``); ``clock_offset``:
        the step's wall clock is the real one plus it (None: the real clock, ``serve``).
        Under --debug-port it starts the step's debug server first."""
        start: Start = {"type": protocol.START, "id": self._new_id(), "clock_offset": clock_offset}
        if self.spec.debug is not None:
            start["debug"] = self.spec.debug
        self._ask(start)

    def ask_invoke(
        self,
        steps: dict[str, Any],
        measure: bool,
        run: RerunInfo | None,
        clock_offset: float | None = None,
        flow_url: str | None = None,
    ) -> None:
        """Ask the process to call the step's handler once (answered by ``Done``); its
        props' path expressions evaluated against ``steps`` first; ``flow_url``: where
        the execution's flow URLs answer (None: pdee's own, which nothing answers)."""
        spec = self.spec
        inputs = spec.inputs
        if spec.expressions:
            from .expressions import resolve  # imported by a workflow with expressions only

            inputs = {**inputs, **resolve(spec.expressions, steps)}
        self._ask(
            {
                "type": protocol.INVOKE,
                "id": self._new_id(),
                "steps": steps,
                "inputs": inputs,
                "stores": spec.stores,
                "measure": measure,
                "run": run,
                "clock_offset": clock_offset,
                "flow_url": flow_url,
            }
        )

    def _new_id(self) -> str:
        """A new request's id, which only its true reply carries."""
        self.expected = os.urandom(16).hex()
        return self.expected

    def _ask(self, message: Start | Invoke) -> None:
        try:
            protocol.send(self.requests, message)
        except BrokenPipeError:
            pass  # the wait for the reply says how the process ended

    def answer(self, message: Answer) -> None:
        """Send the answer to a call the step made (on the request channel, where the
        step's ``Caller`` waits for it)."""
        try:
            protocol.send(self.requests, message)
        except BrokenPipeError:
            pass

    def alive(self) -> bool:
        return self.process.poll() is None

    def how_it_ended(self) -> str:
        """How the process ended, as the restart note of its successor says it."""
        if self.ended is not None:
            return self.ended
        code = self.process.wait()
        return f"it was killed by signal {-code}" if code < 0 else f"it exited with code {code}"

    def read_reply(self) -> FromWorker | None:
        """The reply awaited, or None (not yet, or end of file).

        A line that is not a message carrying the awaited id (whatever the step wrote
        to the channel it inherits) is counted in ``stray`` and dropped.
        """
        while True:
            while b"\n" not in self.pending:
                try:
                    chunk = os.read(self.replies_fd, 65536)
                except BlockingIOError:
                    return None
                if not chunk:
                    self.process.wait()
                    return None
                self.pending += chunk
            line, _, rest = bytes(self.pending).partition(b"\n")
            self.pending = bytearray(rest)
            if not line:
                continue  # a reply starts on a line of its own
            try:
                message: FromWorker = protocol.decode(line)
            except ValueError:
                self.stray += 1
                continue
            if message.get("id") == self.expected:
                return message
            self.stray += 1

    def read_output(self, wait: StepWait) -> str:
        """Take in what the step printed since the last call; the text kept."""
        kept = bytearray()
        for fd, stream in self.log_fds.items():
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except (BlockingIOError, OSError):
                    break
                if not chunk:
                    break
                kept += wait.add_logs(chunk, stream)
        return kept.decode(errors="replace")

    def kill(self) -> None:
        """Kill the step and every process it started (its whole session)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.peak.close()
        for fd in (self.replies_fd, *self.log_fds):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self.requests.close()
        except OSError:
            pass


def spawn(
    spec: StepSpec,
    env: dict[str, str],
    user: Any = None,
    replaces: StepProcess | None = None,
    clock_offset: float | None = None,
) -> StepProcess:
    """Start a step's process, which imports the step's code at once.

    Args:
        spec: the step.
        env: the step's environment variables, over the supervisor's own.
        user: the platform's user (a ``pwd`` entry) to run it as, or None for ours.
        replaces: the step's last process, which ended (reaped here), if there was one.
    """
    to_worker_r, to_worker_w = os.pipe()
    from_worker_r, from_worker_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    full_env = {**os.environ, **env}
    identity: dict[str, Any] = {}
    if user is not None:
        identity = {"user": user.pw_uid, "group": user.pw_gid}
        full_env["HOME"] = user.pw_dir
    full_env["PYTHONUNBUFFERED"] = "1"
    full_env["PYTHONPATH"] = RUNTIME_PARENT
    cwd = protocol.WORK_DIR if os.path.isdir(protocol.WORK_DIR) else "/"
    command = [
        sys.executable,
        "-m",
        f"{__package__}.worker",
        spec.name,
        spec.path,
        spec.source,
        str(to_worker_r),
        str(from_worker_w),
        *([spec.action] if spec.action else []),
    ]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=out_w,
        stderr=err_w,
        pass_fds=(to_worker_r, from_worker_w),
        start_new_session=True,
        cwd=cwd,
        env=full_env,
        **identity,
    )
    for fd in (to_worker_r, from_worker_w, out_w, err_w):
        os.close(fd)
    for fd in (out_r, err_r, from_worker_r):
        os.set_blocking(fd, False)
    worker = StepProcess(
        spec=spec,
        process=process,
        requests=os.fdopen(to_worker_w, "wb"),
        replies_fd=from_worker_r,
        log_fds={out_r: STDOUT, err_r: STDERR},
        peak=usage.ProcessPeak(process.pid),
        restarted=replaces.how_it_ended() if replaces is not None else None,
    )
    worker.ask_start(clock_offset)
    return worker


class StepWait:
    """What waiting for one step gathered: its logs, its peaks of memory and /tmp."""

    def __init__(self) -> None:
        self.logs = bytearray()
        self.stderr_lines: list[int] = []  # lines of logs from stderr
        self.peak_bytes = 0
        self.tmp_peak_bytes = 0
        self.truncated = False
        self._line = 0  # the line of logs the next byte starts in

    def add_logs(self, data: bytes, stream: str = STDOUT) -> bytes:
        """Keep ``data`` up to the log limit; the bytes kept."""
        room = LOG_LIMIT_BYTES - len(self.logs)
        if len(data) > room:
            self.truncated = True
        data = data[: max(room, 0)]
        if not data:
            return b""
        if stream == STDERR:  # every line it touches, also one it shares with stdout
            last = self._line + data.count(b"\n") - data.endswith(b"\n")
            marked = bool(self.stderr_lines) and self.stderr_lines[-1] == self._line
            self.stderr_lines.extend(range(self._line + marked, last + 1))
        self.logs += data
        self._line += data.count(b"\n")
        return data
