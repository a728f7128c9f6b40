"""A step's own long-lived process: loads the step once, then runs its handler per event.

Run as ``python3 -m pdee_runtime.worker NAME PATH SOURCE IN_FD OUT_FD``. The step's
module is imported once, at start, so its globals live as long as this process: across
warm executions, as on the platform. Its stdout and stderr are the step's logs (the
supervisor reads each from its own pipe); requests and replies go over IN_FD and OUT_FD.
Tracebacks name SOURCE, the step's file as the user knows it, not its path in the EE.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
from types import TracebackType

from . import clock, protocol
from .pd import FlowExit, Pipedream, ensure_json
from .store import Store

TYPE_CHECKING = False  # typing is not imported at run time: a step's process starts faster
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .protocol import (
        Answer,
        Done,
        Error,
        FromWorker,
        Invoke,
        Outcome,
        RerunInfo,
        Start,
        StartDebug,
    )

    Handler = Callable[[Pipedream], Any]


def describe_error(exc: BaseException, step_file: str, source: str | None = None) -> Error:
    """The report's form of a step's exception: type, message, traceback, where.

    The traceback starts at the first frame in the step's own file, as the
    platform shows it: the runtime's and importlib's frames above it are left out.
    A ``SyntaxError`` keeps only its own lines (file, line, caret). With ``source``,
    the step's file is named so, as the user knows it. ``line`` is the step's line
    nearest to where the exception was raised.
    """
    if isinstance(exc, SyntaxError) and exc.filename == step_file and source is not None:
        exc.filename = source  # its message names the file: "(entry.py, line 3)"
    tb: TracebackType | None = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != step_file:
        tb = tb.tb_next
    import traceback  # only for an error: a step's process starts without it

    text = "".join(traceback.format_exception(type(exc), exc, tb))
    line = None
    if isinstance(exc, SyntaxError) and exc.filename in (step_file, source):
        line = exc.lineno
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == step_file:
            line = tb.tb_lineno
        tb = tb.tb_next
    if source is not None:
        text = text.replace(f'File "{step_file}"', f'File "{source}"')
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": text,
        "file": source or step_file,
        "line": line,
    }


class TmpPeak:
    """The peak of /tmp's use by this process: sampled just before each removal,
    truncation or overwrite the step makes through Python (an audit hook), so that a
    file written and deleted between two of the supervisor's samples still counts.

    The same hook keeps the files in /tmp (outside the platform's /tmp/__pdg__) that the
    step opened through Python without emptying them (to read, append or update): what
    an auto-retry's step did with a file its failed attempt left (``opened``)."""

    EVENTS = frozenset({"os.remove", "os.rename", "os.truncate", "shutil.rmtree"})

    def __init__(self, tmp: str = "/tmp") -> None:
        self.tmp_fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)  # fstatvfs: no path lookup
        self.peak = 0
        self.enabled = False
        self.opened: list[str] = []  # in the order first opened, at most OPENED_KEPT

    def sample(self) -> None:
        self.peak = max(self.peak, protocol.used_bytes(os.fstatvfs(self.tmp_fd)))

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.enabled:
            return
        if event == "open" and not _truncates(args):
            self.note_opened(args[0] if args else None)
        elif event in self.EVENTS or event == "open":
            try:
                self.sample()
            except OSError:
                pass

    def note_opened(self, path: Any) -> None:
        """Keep ``path`` (an ``open`` event's) if it is a file in /tmp of the step's."""
        if len(self.opened) >= OPENED_KEPT or not isinstance(path, (str, bytes, os.PathLike)):
            return
        try:
            where = os.path.abspath(os.fsdecode(path))
        except (OSError, ValueError):  # the working directory is gone; a NUL in the path
            return
        mine = where.startswith("/tmp/") and not where.startswith(PLATFORM_TMP)
        if mine and where not in self.opened:
            self.opened.append(where)


OPENED_KEPT = 20
PLATFORM_TMP = "/tmp/__pdg__/"


def _truncates(args: tuple[Any, ...]) -> bool:
    """Whether an ``open`` audit event's (path, mode, flags) may empty an existing file."""
    mode, flags = (*args, None, None)[1:3]
    return (isinstance(mode, str) and "w" in mode) or (
        isinstance(flags, int) and bool(flags & os.O_TRUNC)
    )


def load_handler(name: str, path: str) -> Handler:
    """Import the step's code as a module and return its ``handler``.

    Raises:
        AttributeError: the module has no callable ``handler``.
        Exception: whatever the module raises while it is imported.
    """
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    handler = getattr(module, "handler", None)
    if not callable(handler):
        raise AttributeError(f"step {name!r} has no function handler(pd)")
    return handler  # type: ignore[no-any-return]


def _action_handler(uses: str) -> Handler:
    """The handler of a registry action pdee emulates (``actions``)."""
    from .actions import handler_for  # imported by an action's process only

    return handler_for(uses)


def run_handler(
    handler: Handler,
    step_file: str,
    steps: dict[str, Any],
    inputs: dict[str, Any],
    source: str | None = None,
    run: RerunInfo | None = None,
    flow_url: str | None = None,
) -> Outcome:
    """Call ``handler(pd)`` once and describe what came of it (``inputs`` may hold
    ``Store`` objects, for data store props; ``run`` is ``pd.context["run"]``;
    ``flow_url`` where the flow URLs answer)."""
    pd = Pipedream(steps, inputs, run, flow_url)
    error = None
    return_value = None
    started = time.perf_counter()
    try:
        result = handler(pd)
        if not isinstance(result, FlowExit):
            return_value = ensure_json(result, "the step's return value")
    except BaseException as exc:  # the step's SystemExit is the step's error too
        error = describe_error(exc, step_file, source)
    changed = _drop_changed(pd)
    if changed is not None and error is None:
        error = describe_error(changed, step_file, source)
    duration_ms = (time.perf_counter() - started) * 1000
    return {
        "return_value": return_value,
        "exports": pd.exports,
        "exit": {"reason": pd.flow.exit_reason} if pd.flow.exited else None,
        "pause": None if pd.flow.exited or error is not None else pd.flow.pause,
        "emails": pd.send.emails,
        "respond": pd.response,
        "error": error,
        "duration_ms": duration_ms,
    }


def _drop_changed(pd: Pipedream) -> Exception | None:
    """Drop what the step handed over earlier (exports, its response, rerun's context)
    and changed since so that it is no longer JSON (a NaN appended to an exported list);
    the first such change's error, if any."""
    found: list[Exception] = []

    def still_json(value: Any, what: str) -> bool:
        try:
            ensure_json(value, f"{what}, as it was when the step ended,")
        except (TypeError, ValueError) as exc:
            found.append(exc)
            return False
        return True

    for name in [n for n, value in pd.exports.items() if not still_json(value, f"export {n!r}")]:
        del pd.exports[name]
    if pd.response is not None and not still_json(pd.response, "pd.respond's response"):
        pd.response = None
    pause = pd.flow.pause
    if pause is not None and not still_json(pause.get("context"), "pd.flow.rerun's context"):
        pd.flow.pause = None
    return found[0] if found else None


def _unsent(outcome: Outcome, exc: Exception) -> Outcome:
    """The outcome to send when ``outcome`` itself cannot be sent (what the step handed
    over changed under the checks, from another of its threads): the step's error."""
    error: Error = {
        "type": type(exc).__name__,
        "message": f"the step's results could not be sent as JSON: {exc}",
        "traceback": None,
    }
    return {
        **outcome,
        "return_value": None,
        "exports": {},
        "pause": None,
        "respond": None,
        "error": error,
    }


def _flush_logs() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def _reply(replies: Any, message: FromWorker) -> None:
    """Send a reply on a line of its own, even after a partial line the step wrote there."""
    replies.write(b"\n" + protocol.encode(message))
    replies.flush()


class Caller:
    """Carries a step's calls to the run on the host (its data stores): each goes out on
    the reply channel under the id of the request the worker serves, and the supervisor
    brings the answer back on the request channel."""

    def __init__(self, requests: Any, replies: Any) -> None:
        self.requests, self.replies = requests, replies
        self.request_id = ""
        self.lock = threading.Lock()  # a step's threads take turns

    def __call__(self, call: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            _reply(self.replies, {"type": protocol.CALL, "id": self.request_id, "call": call})
            line = self.requests.readline()
        if not line:
            return {"error": "the runtime went away"}
        answer: Answer = protocol.decode(line)
        return answer["answer"]


def serve_debugger(debug: StartDebug, path: str) -> None:
    """Start debugpy's server in this process (``--debug-port``), listening on the EE's
    loopback at ``debug["port"]``; pdee relays a debugger on the host to it.

    The debugger names the step's file by its path on the user's machine
    (``client_path``); pydevd's own path translation (``setup_client_server_paths``, what
    a client's ``pathMappings`` would set) maps it to the copy that runs (``path``), both
    ways, so that the debugger's configuration needs no mapping. ``breakpoint()`` in the
    step stops in the debugger (``debugpy.breakpoint``). The step's subprocesses are not
    debugged.
    """
    if protocol.DEBUGGER_DIR not in sys.path:
        sys.path.insert(0, protocol.DEBUGGER_DIR)
    # Read by pydevd as it starts: only the steps' code is the user's ("justMyCode" steps
    # over the runtime's frames), and no warning in the step's logs about the frozen
    # stdlib modules (the step's file is never one). Dropped once read.
    settings = {"IDE_PROJECT_ROOTS": protocol.CODE_DIR, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    os.environ.update(settings)
    import debugpy  # type: ignore[import-not-found,unused-ignore]
    import debugpy.server.api  # type: ignore[import-not-found,unused-ignore]  # pydevd with it

    sys.modules["pydevd_file_utils"].setup_client_server_paths([(debug["client_path"], path)])
    debugpy.configure(subProcess=False)
    debugpy.listen(("127.0.0.1", int(debug["port"])))
    for name in settings:
        os.environ.pop(name, None)
    sys.breakpointhook = debugpy.breakpoint


def main(argv: list[str]) -> None:
    name, path, source, in_fd, out_fd = argv[0], argv[1], argv[2], int(argv[3]), int(argv[4])
    action = argv[5] if len(argv) > 5 else None  # a registry action pdee emulates
    requests = os.fdopen(in_fd, "rb")
    replies = os.fdopen(out_fd, "wb")
    try:  # under memory pressure the kernel kills a step before its supervisor
        with open("/proc/self/oom_score_adj", "w") as adj:
            adj.write("1000")
    except OSError:
        pass
    # Every request carries an id that only its reply repeats: whatever the step writes
    # to the channel (it runs in this process) cannot pass for a reply.
    start: Start = protocol.decode(requests.readline())
    debug = start.get("debug")
    if debug is not None:  # --debug-port; without it nothing of the debugger is imported
        try:
            serve_debugger(debug, path)
        except Exception as exc:
            error: Error = {
                "type": "DebuggerError",
                "message": f"the step's debug server did not start: {type(exc).__name__}: {exc}",
                "traceback": None,
            }
            _reply(replies, {"type": protocol.LOADED, "id": start["id"], "error": error})
            return
    # The step's wall clock on the run's virtual clock (none given: the real clock, as
    # serve runs): installed before the step's code, or anything it imports, runs.
    on_virtual_clock = start.get("clock_offset") is not None
    if on_virtual_clock:
        clock.install()
        clock.set_offset(float(start["clock_offset"] or 0.0))  # the import's instant
    sys.path.insert(0, protocol.PACKAGES_DIR)
    tmp_peak = TmpPeak()
    sys.addaudithook(tmp_peak.hook)
    started = time.perf_counter()
    try:
        handler = _action_handler(action) if action else load_handler(name, path)
    except BaseException as exc:
        _flush_logs()
        error = describe_error(exc, path, source)
        _reply(replies, {"type": protocol.LOADED, "id": start["id"], "error": error})
        return
    _flush_logs()
    load_ms = (time.perf_counter() - started) * 1000
    _reply(
        replies, {"type": protocol.LOADED, "id": start["id"], "error": None, "duration_ms": load_ms}
    )
    caller = Caller(requests, replies)
    for line in iter(requests.readline, b""):
        request: Invoke = protocol.decode(line)
        if on_virtual_clock:
            clock.set_offset(float(request.get("clock_offset") or 0.0))
        caller.request_id = request["id"]
        stores = {prop: Store(key, caller) for prop, key in request["stores"].items()}
        tmp_peak.enabled = request["measure"]
        tmp_peak.peak = 0
        tmp_peak.opened = []
        inputs = {**request["inputs"], **stores}
        outcome = run_handler(
            handler, path, request["steps"], inputs, source, request["run"], request.get("flow_url")
        )
        tmp_peak.enabled = False
        _flush_logs()
        done: Done = {
            "type": protocol.DONE,
            "id": request["id"],
            "tmp_peak_bytes": tmp_peak.peak,
            "tmp_opened": tmp_peak.opened,
            **outcome,
        }
        try:
            _reply(replies, done)
        except (TypeError, ValueError, RecursionError) as exc:
            _reply(replies, {**done, **_unsent(outcome, exc)})


if __name__ == "__main__":
    main(sys.argv[1:])
