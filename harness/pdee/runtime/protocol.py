"""The protocol between pdee and an EE's runtime: every message, its kind, its framing.

Both sides import this module: the runtime in the EE (as ``pdee_runtime.protocol``) and
pdee on the host (``pdee.runtime.protocol``: ``backends/channel.py``, ``engine/ee_work.py``,
``results/reply.py``). Two links carry one JSON object per line (``encode``, ``decode``),
each with a ``type`` (the kinds below):

- pdee and the supervisor, over the container's attached stdin and stdout: pdee sends
  ``Load``, ``Run`` and ``Reset``, each answered by one reply (``Ready``, ``Result``,
  ``Swept``; or ``Fatal``); the supervisor says ``Hello`` first. While a ``Run`` runs
  it also sends ``StepStarted`` and ``Log`` (progress) and ``Call`` (a step's data store
  operation), which pdee answers with ``Answer``. Under ``--debug-port`` both ways
  also carry ``RelayFrame`` s at any time: TCP streams between a debugger on the host
  and the debug server in a step's process (``relay``).
- the supervisor and a step's worker, over a pair of pipes: ``Start`` (answered by
  ``Loaded``) and ``Invoke`` (answered by ``Done``), each under an id only its reply
  repeats; the worker's ``Call`` goes up to pdee and its ``Answer`` comes back down.

The messages are ``TypedDict`` s declared for the type checker only: at run time they
are plain dicts, and importing this module imports neither ``typing`` nor more than
``json`` and ``os`` (a step's process starts faster). ``PROTOCOL_VERSION`` changes with
the wire format; an EE says it in its ``Hello`` and pdee refuses an EE that speaks
another.
"""

from __future__ import annotations

import json
import os
import re
from itertools import accumulate

TYPE_CHECKING = False  # typing is not imported at run time: a step's process starts faster
if TYPE_CHECKING:
    from typing import IO, Any, Final, Literal, TypedDict, final

    from typing_extensions import NotRequired

PROTOCOL_VERSION: Final = 8
"""The wire format's version: 8 carries where the flow URLs answer (``flow_url`` in
``Run`` and ``Invoke``) and relays a debugger's TCP streams (``RelayFrame``,
``Load.debug``, ``Run.debug_wait``, ``Result.debug``); 7 carries the steps' virtual
clock (``clock_ts`` in ``Load`` and ``Run``, ``clock_offset`` to a worker,
``Hello.clock``); 6 starts every
line with its kind (``{"type":"<kind>",``), bounds how deep a message nests
(``MESSAGE_DEPTH``) and refuses NaN and infinities; 5 nested a call's answer
(``Answer.answer``) and named every request to a worker."""

MAX_DEPTH: Final = 500
"""How deep the JSON data pdee carries may nest (arrays and objects in one another): an
event, an input, and what a step returns, exports, responds, stores or passes to
``pd.flow.rerun``. Python's JSON parser gives up near 1,000 levels, less what its stack
already holds, so pdee bounds the data well below it, the same on both sides: a step
is refused in its own traceback what pdee could not read."""

MESSAGE_DEPTH: Final = MAX_DEPTH + 8
"""How deep a message may nest: the data it carries, and its own levels around it (a
``Result`` holds an export 4 levels down: steps, the step, exports, the name)."""

# -- the kinds: each message's "type" ------------------------------------------------

# pdee -> supervisor
LOAD: Final = "load"
RUN: Final = "run"
RESET: Final = "reset"  # the request, and its reply (``Swept``)
ANSWER: Final = "answer"  # to a call; also supervisor -> worker
# supervisor -> pdee
HELLO: Final = "hello"
READY: Final = "ready"
RESULT: Final = "result"
STEP: Final = "step"
LOG: Final = "log"
CALL: Final = "call"  # also worker -> supervisor
FATAL: Final = "fatal"
RELAY: Final = "relay"  # both ways: a frame of a relayed TCP stream (``relay``)
# supervisor -> worker, and back
START: Final = "start"
INVOKE: Final = "invoke"
LOADED: Final = "loaded"
DONE: Final = "done"

if TYPE_CHECKING:
    Status = Literal["ok", "exit", "error", "timeout", "oom"]

    # -- pdee -> supervisor ----------------------------------------------------------

    @final  # no other keys: ``"stand_in" in step`` tells the two kinds of step apart
    class CodeStep(TypedDict):
        """A step the runtime runs: its code, under its sha256 (the platform's path for
        it; pdee hashes, so the runtime need not import hashlib)."""

        name: str  # its key in pd.steps
        code: str
        code_hash: str
        source: str  # the step's file as the user knows it, for tracebacks
        inputs: dict[str, Any]  # its pd.inputs but for data stores
        stores: dict[str, str]  # data store props: prop -> the store's key
        # a registry action pdee emulates (its uses, ``actions``), run instead of ``code``
        action: NotRequired[str]
        # props holding {{ }} path expressions, evaluated before the step (``expressions``)
        expressions: dict[str, Any]

    @final
    class StandInStep(TypedDict):
        """A step the runtime does not run (another language, a registry action): it
        returns ``return_value`` unrun."""

        name: str
        stand_in: Literal[True]
        return_value: Any

    class Load(TypedDict):
        """Lay out the workflow's steps and start their processes; answered by ``Ready``."""

        type: Literal["load"]
        steps: list[CodeStep | StandInStep]
        env: dict[str, str]  # the steps' environment variables
        measure: bool  # the exact peaks; off only to measure what measuring costs
        memory_bytes: int
        timeout_s: float
        # The virtual instant the EE starts (Unix seconds): the steps' wall clock at their
        # import. Absent: the real clock (serve).
        clock_ts: NotRequired[float]
        # Under --debug-port: each code step's debug server, and the step's file as the
        # debugger knows it (``relay``). Absent: no debugger, nothing of it loaded.
        debug: NotRequired[DebugSetup]

    class DebugSetup(TypedDict):
        """Where each step's debug server listens on the EE's loopback, and the path of
        each step's file on the user's machine, which the debug server maps to the copy
        in the EE (so a debugger needs no path mapping)."""

        ports: dict[str, int]  # step: its port in the EE
        paths: dict[str, str]  # step: its file as the debugger names it

    class StartDebug(TypedDict):
        """What a step's process needs to serve a debugger: its port, its file's path on
        the user's machine."""

        port: int
        client_path: str

    class RelayFrame(TypedDict):
        """A piece of a relayed TCP stream, either way: ``port`` opens stream ``stream``
        (pdee -> EE only: to that port of the EE's loopback), ``data`` carries bytes
        (base64), ``end`` closes it (``error``: why, when it failed)."""

        type: Literal["relay"]
        stream: int
        port: NotRequired[int]
        data: NotRequired[str]
        end: NotRequired[bool]
        error: NotRequired[str]

    # A body a step downloads by URL (``pdee-blob://<token>`` in the event): its base64
    # "data" and its content "type".
    Blob = dict[str, str]
    # pd.context["run"]: which run of a rerun step this is ("runs", from 1), and the
    # "context" the last run passed to pd.flow.rerun.
    RerunInfo = dict[str, Any]

    class RunPart(TypedDict, total=False):
        """What a ``Run`` carries beyond the event: an HTTP request's bodies, and, for a
        later part of a paused execution, the step it starts at and what the earlier
        parts' steps gave (``pd.steps``)."""

        blobs: dict[str, Blob]
        start_step: int
        prior_steps: dict[str, Any]
        run: RerunInfo | None  # the first step's pd.context["run"], when rerun
        # The execution's virtual start (Unix seconds): the steps' wall clock then. The
        # same instant the data store calls use. Absent: the real clock (serve).
        clock_ts: float
        # Where this part's flow URLs answer (pdee serve): pd.flow's resume_url and
        # cancel_url are it + "/resume" and "/cancel". Absent: pdee's own, unanswered.
        flow_url: str
        # Under --debug-port, the first execution: wait until a debugger is attached to
        # every step's debug server before the first step runs.
        debug_wait: bool

    class Run(RunPart):
        """Run one execution: the trigger's event and context; answered by ``Result``."""

        type: Literal["run"]
        index: int  # the execution's
        event: Any
        context: dict[str, Any]

    class Reset(TypedDict):
        """Make the EE what a new one is (a recycled cold start); answered by ``Swept``,
        then a ``Load`` follows."""

        type: Literal["reset"]

    class Answer(TypedDict):
        """The answer to a ``Call``: the data store service's, ``{"found", "value"}`` or
        ``{"error"}``."""

        type: Literal["answer"]
        answer: dict[str, Any]

    # -- supervisor -> pdee ----------------------------------------------------------

    class Hello(TypedDict):
        """What the supervisor says first: who it is and what its EE is."""

        type: Literal["hello"]
        protocol: int  # its PROTOCOL_VERSION
        python: str  # "3.12.7"
        tmp_size_bytes: int
        memory_source: str  # where it reads step memory
        separated: bool  # steps run as another user: they cannot signal or trace it
        link_local: str  # "blocked" or "open"
        clock: str  # the steps' virtual clock: "time-machine", or "time-only" (fallback)

    class Ready(TypedDict):
        """The workflow is loaded; its packages took ``packages_bytes`` of /tmp."""

        type: Literal["ready"]
        packages_bytes: int

    class Swept(TypedDict):
        """The reply to ``Reset``: whether the EE is new again, and if not, why."""

        type: Literal["reset"]
        clean: bool
        why: str | None

    class StepStarted(TypedDict):
        """Progress: step ``name`` of execution ``index`` starts."""

        type: Literal["step"]
        index: int | None
        name: str

    class Log(TypedDict):
        """Progress: what step ``name`` printed, as it printed it."""

        type: Literal["log"]
        name: str
        data: str

    class Call(TypedDict):
        """A step's data store operation (``{"store", "op", "key", ...}``), answered by
        an ``Answer``. From a worker it carries the id of the request it serves."""

        type: Literal["call"]
        call: dict[str, Any]
        id: NotRequired[str]

    class Fatal(TypedDict):
        """The supervisor could not take a message in."""

        type: Literal["fatal"]
        message: str

    class Error(TypedDict):
        """Why a step, or the execution, failed."""

        type: str  # the exception's type, or the platform's name: "Timeout", ...
        message: str
        traceback: str | None
        step: NotRequired[str | None]
        file: NotRequired[str]  # the step's file, as the user knows it
        line: NotRequired[int | None]  # the step's line nearest to where it was raised

    class StepOutcome(TypedDict):
        """What one step of an execution gave."""

        return_value: Any
        exports: dict[str, Any]
        logs: str  # stdout and stderr as they came
        duration_ms: float
        stderr_lines: NotRequired[list[int]]  # lines of logs from stderr, from 0
        logs_truncated: NotRequired[bool]
        stand_in: NotRequired[bool]
        # Files in /tmp the step opened through Python without emptying them.
        tmp_opened: NotRequired[list[str]]

    class Pause(TypedDict):
        """How the workflow pauses at the end of a step (``pd.flow.delay``, ``suspend``,
        ``rerun``); the supervisor adds the step."""

        kind: str  # "delay", "suspend" or "rerun"
        ms: float
        resume_url: str
        cancel_url: str
        context: NotRequired[Any]  # rerun's
        step: NotRequired[str]

    class Email(TypedDict):
        """``pd.send.email``: recorded, never sent; the supervisor adds the step."""

        subject: str
        text: str
        html: str | None
        step: NotRequired[str]

    class Tmp(TypedDict):
        """/tmp when the execution ended, and the most it held while the steps ran."""

        used_bytes: int
        peak_used_bytes: int
        files: int
        some_files: list[str]  # up to 10, outside /tmp/__pdg__
        size_bytes: int

    class Memory(TypedDict):
        """The step processes' peak memory, and their limit."""

        peak_bytes: int
        limit_bytes: int

    class Result(TypedDict):
        """The reply to ``Run``: how the execution ended and what each step gave."""

        type: Literal["result"]
        index: int | None
        status: Status
        error: Error | None
        steps: dict[str, StepOutcome]
        respond: dict[str, Any] | None  # pd.respond's
        exit_reason: str | None
        pause: Pause | None
        emails: list[Email]
        tmp: Tmp
        platform_files_intact: bool  # False: a step deleted /tmp/__pdg__
        memory: Memory
        restarted_steps: list[str]
        restart_reasons: dict[str, str]  # step: how its last process ended
        stray_lines: dict[str, int]  # step: lines it wrote to its reply channel
        duration_ms: float
        debug: NotRequired[DebugNote]  # under --debug-port

    class DebugNote(TypedDict):
        """How long a debugger held an execution: stopped in a step (the timeout does not
        run meanwhile), and waiting for it to attach (the first execution)."""

        held_ms: float
        waited_ms: float

    # -- supervisor <-> worker -------------------------------------------------------

    class Start(TypedDict):
        """Import the step; answered by ``Loaded``."""

        type: Literal["start"]
        id: str
        clock_offset: float | None  # the step's wall clock: real + this; None: real
        debug: NotRequired[StartDebug]  # serve a debugger (``--debug-port``)

    class Invoke(TypedDict):
        """Call the step's handler once; answered by ``Done``."""

        type: Literal["invoke"]
        id: str
        steps: dict[str, Any]  # pd.steps
        inputs: dict[str, Any]
        stores: dict[str, str]
        measure: bool
        run: RerunInfo | None
        clock_offset: float | None  # the step's wall clock: real + this; None: real
        flow_url: str | None  # where the flow URLs answer (Run.flow_url)

    class Loaded(TypedDict):
        """The step is imported, or ``error`` says why not."""

        type: Literal["loaded"]
        id: str
        error: Error | None
        duration_ms: NotRequired[float]

    class Exit(TypedDict):
        reason: str | None

    class Outcome(TypedDict):
        """What came of one call of a step's handler."""

        return_value: Any
        exports: dict[str, Any]
        exit: Exit | None  # pd.flow.exit was called
        pause: Pause | None
        emails: list[Email]
        respond: dict[str, Any] | None
        error: Error | None
        duration_ms: float
        tmp_opened: NotRequired[list[str]]  # files in /tmp opened without emptying them

    class Done(Outcome):
        """The handler returned (or raised): its outcome, and /tmp's peak meanwhile."""

        type: Literal["done"]
        id: str
        tmp_peak_bytes: int

    Request = Load | Run | Reset  # what pdee asks, each answered by one Reply
    Reply = Hello | Ready | Result | Swept | Fatal
    ToRuntime = Request | Answer | RelayFrame
    FromRuntime = Reply | StepStarted | Log | Call | RelayFrame
    ToWorker = Start | Invoke | Answer
    FromWorker = Loaded | Done | Call
    Message = ToRuntime | FromRuntime | ToWorker | FromWorker


def encode(message: Message) -> bytes:
    """One message as a line of compact JSON that starts with its kind, so that a reader
    knows what a line it cannot decode was meant to be (``kind``).

    Raises:
        ValueError: the message holds NaN or an infinity, or holds itself.
        TypeError: it holds what JSON cannot carry.
    """
    return _COMPACT.encode({"type": message["type"], **message}).encode() + b"\n"


def decode(line: bytes) -> Any:
    """One line back into a message: a JSON object with a ``type``. What kind of message
    it may be is the reader's to say (``message: FromRuntime = decode(line)``).

    The line is refused before it is parsed if it nests past ``MESSAGE_DEPTH`` (Python's
    parser would raise ``RecursionError``, at a depth that depends on its caller's
    stack), and when it holds ``NaN`` or an infinity, which JSON does not have.

    Raises:
        ValueError: the line is not a JSON object with a string ``type``, nests too
            deep, or holds what is not JSON.
    """
    deepest = nesting_over(line, MESSAGE_DEPTH)
    if deepest:
        raise ValueError(
            f"a message nests {deepest:,} levels deep, past the {MESSAGE_DEPTH} pdee reads"
        )
    try:
        message = _DECODER.decode(line.decode())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{line[:200]!r} is not a message ({exc})") from None
    except RecursionError:  # not past MESSAGE_DEPTH: a caller already deep in its stack
        raise ValueError("a message nests deeper than Python's JSON parser goes here") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ValueError(f"{line[:200]!r} is not a message")
    return message


def kind(line: bytes) -> str | None:
    """The kind a line says it is (every line ``encode`` makes starts with it), even when
    the rest cannot be decoded; None if it does not start like a message."""
    match = _KIND.match(line)
    return match.group(1).decode() if match else None


def nesting_over(text: bytes | str, limit: int) -> int:
    """How deep the JSON ``text`` nests (arrays and objects in one another), if deeper
    than ``limit``; else 0. Brackets inside strings do not count.

    Quick when the text holds no more than ``limit`` brackets, as most do; otherwise a
    few passes over its bytes, all in C but the last, which counts the brackets outside
    strings one by one unless they pair off in a few rounds (data wide, not deep). For
    text that is not JSON, at least the depth a parser would reach before it fails.
    """
    if isinstance(text, str):
        if text.count("[") + text.count("{") <= limit:
            return 0
        text = text.encode("utf-8", "surrogatepass")
    elif text.count(b"[") + text.count(b"{") <= limit:
        return 0
    if b"\\" in text:  # escapes are inside strings: drop those that hide a quote
        text = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Brackets and quotes alone; every other piece between quotes is a string.
    brackets = b"".join(text.translate(None, _NOT_BRACKETS_OR_QUOTES).split(b'"')[::2])
    paired = brackets
    for rounds in range(1, _PAIRING_ROUNDS + 1):  # each round ends one level or two
        shorter = paired.replace(b"[]", b"").replace(b"{}", b"")
        if not shorter and 2 * rounds <= limit:
            return 0
        if len(shorter) in (0, len(paired)):
            break
        paired = shorter
    deepest = max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0)
    return deepest if deepest > limit else 0


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON (JSON has no NaN or infinities)")


def send(stream: IO[bytes], message: Message) -> None:
    """Write one message and flush it."""
    stream.write(encode(message))
    stream.flush()


# One encoder for every message; NaN and infinities are not JSON: a message never holds them.
_COMPACT = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_DECODER = json.JSONDecoder(parse_constant=_not_json)  # and one decoder
_KIND = re.compile(rb'\{"type":"([a-z_]{1,20})"[,}]')
_NOT_BRACKETS_OR_QUOTES = bytes(set(range(256)) - set(b'[]{}"'))
_BRACKET_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_PAIRING_ROUNDS = 8

# -- where the platform keeps things in an EE (the runtime's side only) ---------------

PDG_DIR = "/tmp/__pdg__"
CODE_DIR = f"{PDG_DIR}/dist/code"
PACKAGES_DIR = f"{PDG_DIR}/dist/python"
# Where an image made for a package set holds it installed, outside /tmp.
PREINSTALLED_ARCHIVE = "/opt/pdee/packages.tar"  # a package image's packages, as one tar
# Where the image keeps debugpy (--debug-port): outside /tmp, site-packages and every
# step's sys.path.
DEBUGGER_DIR = "/opt/pdee/debugger"
# The platform runs step code from a read-only directory, as Lambda does.
WORK_DIR = "/var/task"


def code_path(code_hash: str) -> str:
    """Where the platform keeps a step's code: /tmp/__pdg__/dist/code/<sha256>/code.py."""
    return f"{CODE_DIR}/{code_hash}/code.py"


def used_bytes(fs: os.statvfs_result) -> int:
    """Bytes used in a filesystem, as ``df`` counts them, from its ``statvfs``."""
    return (fs.f_blocks - fs.f_bfree) * fs.f_frsize
