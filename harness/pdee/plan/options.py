"""The options of a run, declared once: each one's name, type, default, help and panel.

``RunOptions`` is the one declaration. ``pdee.run``, ``pdee.serve``, ``pdee.check``,
``build_plan`` and the CLI's ``run``, ``serve`` and ``check`` all take their options from
it: the Python API as keyword arguments typed by ``RunKeywords`` (``CheckKeywords`` for
the subset ``check`` takes), the CLI as Typer options whose help, panel, flag and default
are read from here (``pdee.cli.options``). Adding an option is one field here (and its
key in the ``TypedDict`` below, which a test holds to the fields), then its use.

A keyword that is not an option is pdee's ``UsageError``, naming the closest one
(``of``): ``memroy``: did you mean ``memory``?
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, TypedDict

from ..errors import UsageError
from ..lifecycle.scheduler import DEFAULT_CHAOS, DEFAULT_IDLE_TIMEOUT_S, DEFAULT_INTERVAL_S, Mode
from ..provision.image import DEFAULT_TAG

if TYPE_CHECKING:
    from .steps import StrPath

# --queue-size's help: what it is, then where it applies (``serve`` says its own).
QUEUE_SIZE_IS = "Events that may wait to start; more are dropped (Event Queue Full)."
QUEUE_SIZE_HELP = (
    f"{QUEUE_SIZE_IS} Only a workflow with an app (event source) trigger has a queue, of "
    "100 unless given (the free plan's); HTTP, timer and email triggers do not queue. See "
    "docs/arrivals.md."
)

# The CLI's help panels, in the order they are shown.
EVENTS = "Events"
LIFECYCLE = "Lifecycle"
LIMITS = "Limits"
WORKFLOW = "Workflow inputs"
ENVIRONMENT = "Environment"
DEVELOPMENT = "Development"  # --watch, --debug-port, --reload
PROJECT = "Project"  # check's --shard and --include-inactive
OUTPUT = "Output"


@dataclass(frozen=True)
class Declared:
    """How the CLI shows one option: its help, its panel, and its flag where that is not
    ``--`` and the name with dashes (``data_stores`` is ``--data-store``, repeatable)."""

    help: str
    panel: str
    flags: tuple[str, ...] = ()
    show_default: bool = True


def _option(default: Any, help: str, panel: str, *flags: str, show_default: bool = True) -> Any:
    """A field of ``RunOptions`` with its CLI declaration as metadata."""
    return field(default=default, metadata={"declared": Declared(help, panel, flags, show_default)})


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """Every option of a run, with the platform's defaults; ``build_plan`` checks them."""

    events: int | None = _option(
        None,
        "Executions to run (default: one per event in --event-file or --schedule, else 1: "
        "--cron alone runs its schedule's first instant; give --events for more).",
        EVENTS,
        show_default=False,
    )
    event_file: StrPath | None = _option(
        None,
        "Events: a JSON object, a JSON array or JSON Lines; executions cycle through them.",
        EVENTS,
        show_default=False,
    )
    event: str | dict[str, Any] | None = _option(
        None, "One event as inline JSON.", EVENTS, show_default=False
    )
    schedule: StrPath | None = _option(
        None,
        'Events that carry their arrival time in a "ts" field (seconds or ISO 8601).',
        EVENTS,
        show_default=False,
    )
    interval: float | None = _option(
        None,
        f"Virtual seconds between events (default {DEFAULT_INTERVAL_S:g}; 0: a burst).",
        EVENTS,
        show_default=False,
    )
    rate: float | None = _option(
        None, "Events per minute, arriving at random (Poisson).", EVENTS, show_default=False
    )
    cron: str | None = _option(
        None,
        "A timer trigger's cron schedule, five fields (minute hour day month weekday), e.g. "
        '"*/15 * * * *": events at its instants on the virtual clock (default: the timer\'s '
        "schedule in workflow.yaml, if it holds one).",
        EVENTS,
        show_default=False,
    )
    timezone: str | None = _option(
        None,
        "The --cron schedule's time zone, an IANA name (default UTC).",
        EVENTS,
        show_default=False,
    )
    seed: int | None = _option(
        None,
        "Seed of every random choice (default: a new one, printed), to replay a run.",
        EVENTS,
        show_default=False,
    )
    mode: Mode | str = _option(
        Mode.REALISTIC,
        "realistic: the platform's reuse, idle expiry and random destruction; warm: always "
        "reuse; cold: never reuse.",
        LIFECYCLE,
    )
    concurrency: int = _option(
        1,
        "Executions in flight at once, each on its own EE; more wait for a free one.",
        LIFECYCLE,
    )
    idle_timeout: float | None = _option(
        None,
        f"Seconds an idle EE lives (default {DEFAULT_IDLE_TIMEOUT_S:g}, the platform's; "
        "virtual for run, real for serve).",
        LIFECYCLE,
        show_default=False,
    )
    chaos: float | None = _option(
        None,
        f"Chance that an idle EE is destroyed before each event (default {DEFAULT_CHAOS:g}).",
        LIFECYCLE,
        show_default=False,
    )
    warm_workers: int = _option(
        0, "EEs started before the first event and kept (never expire).", LIFECYCLE
    )
    throttle: str | None = _option(
        None,
        "At most N executions start in each fixed window of SECONDS (N/SECONDS, e.g. 2/60; "
        "0/SECONDS pauses the workflow); the rest wait for the next window.",
        LIFECYCLE,
        show_default=False,
    )
    queue_size: int | None = _option(
        None,
        QUEUE_SIZE_HELP,
        LIFECYCLE,
        show_default=False,
    )
    recycle: bool = _option(
        True,
        "A cold start may take a used EE made new again (every process killed, /tmp emptied, "
        "the workflow loaded anew) instead of a new container, at a fraction of its start "
        "time. The step cannot tell; see docs/lifecycle.md (the times: docs/performance.md).",
        LIFECYCLE,
        "--recycle/--no-recycle",
    )
    auto_retry: bool | None = _option(
        None,
        "Retry an errored execution from its failed step, as the platform's Auto-retry "
        "Errors: up to 8 times over 10 hours, never after oom or timeout (default: "
        "workflow.yaml's settings.auto_retry, else off). See docs/auto-retry.md.",
        LIFECYCLE,
        "--auto-retry/--no-auto-retry",
        show_default=False,
    )
    resume_after: float | None = _option(
        None,
        "Resume every pd.flow.suspend this many virtual seconds later (default: none is "
        "resumed; each is cancelled at its timeout, 24 hours unless the step says).",
        LIFECYCLE,
        show_default=False,
    )
    resume_data: Any = _option(
        None,
        "The suspended step's $resume_data when --resume-after resumes it: JSON, or @FILE.",
        LIFECYCLE,
        show_default=False,
    )
    tmp_size: str | int = _option("2GB", "Size of /tmp (the platform's: 2GB).", LIMITS)
    memory: str | int = _option(
        "256MB", "Step memory limit (platform default 256MB, max 10GB).", LIMITS
    )
    timeout: float | None = _option(
        None,
        "Execution time limit in seconds (the platform's: 30, 60 for a timer trigger; max 750).",
        LIMITS,
        show_default=False,
    )
    cpus: float | str | None = _option(
        None,
        "Each EE's CPU limit: a number of CPUs (default 1), or platform: scaled with --memory "
        "as on Lambda (1 CPU at 1,769MB).",
        LIMITS,
        show_default=False,
    )
    inputs: StrPath | dict[str, Any] | None = _option(
        None,
        'pd.inputs for every step, as a JSON object file; a step\'s own under "$steps": '
        '{"STEP": {...}}.',
        WORKFLOW,
        show_default=False,
    )
    data_stores: Sequence[str] | Mapping[str, StrPath | None] | None = _option(
        None,
        "A data store prop: pd.inputs[NAME] is a Store, empty for this run, or kept in the "
        "SQLite file PATH across runs (NAME=PATH; repeatable).",
        WORKFLOW,
        "--data-store",
        show_default=False,
    )
    step_results: Sequence[str] | Mapping[str, Any] | None = _option(
        None,
        "What a step pdee does not run (Node.js, a registry action) returns, for later steps: "
        "NAME=JSON or NAME=@FILE (repeatable; default null).",
        WORKFLOW,
        "--step-result",
        show_default=False,
    )
    env: Sequence[str] | dict[str, str] | None = _option(
        None,
        "An environment variable for every step, KEY=VALUE (repeatable). Only names are shown "
        "or reported.",
        WORKFLOW,
        "--env",
        show_default=False,
    )
    env_file: StrPath | None = _option(
        None,
        "Environment variables from a dotenv file (--env wins).",
        WORKFLOW,
        show_default=False,
    )
    network: str = _option("bridge", "bridge, none, host or a Docker network's name.", ENVIRONMENT)
    allow_link_local: bool = _option(
        False,
        "Let EEs reach 169.254.0.0/16, where cloud metadata endpoints answer (blocked by default).",
        ENVIRONMENT,
        "--allow-link-local",
    )
    image: str = _option(DEFAULT_TAG, "The EE image (or PDEE_IMAGE).", ENVIRONMENT, "--image")
    offline: bool = _option(
        False, "Take the steps' packages from pdee's cache only.", ENVIRONMENT, "--offline"
    )
    debug_port: int | None = _option(
        None,
        "Attach a debugger (debugpy, DAP) at 127.0.0.1:PORT (PORT+1 for the next Python "
        "step, ...); the first execution waits for it, and the timeout stops while it holds "
        "a step. One execution at a time: --concurrency above 1 is refused. See "
        "docs/debugging.md.",
        DEVELOPMENT,
        show_default=False,
    )
    trigger: str | None = _option(
        None,
        "The trigger of step files, which gives the default event and timeout: http (30 s), "
        "timer (a timer's event, 60 s) or email (30 s). A synced workflow names its own.",
        EVENTS,
        show_default=False,
    )

    @classmethod
    def of(
        cls,
        options: Mapping[str, Any],
        where: str,
        allowed: Iterable[str] = (),
        also: Iterable[str] = (),
    ) -> RunOptions:
        """The options given as keyword arguments to ``where`` (a function's name).

        Args:
            options: the keyword arguments.
            where: the function that took them, named in the error.
            allowed: the option names ``where`` takes (default: every one).
            also: ``where``'s other keyword names, offered as corrections too.

        Raises:
            UsageError: a keyword that is not one of them, with the closest name.
        """
        names = set(allowed) or OPTION_NAMES
        for name in options:
            if name not in names:
                raise unknown_keyword(name, where, names | set(also))
        return cls(**options)


def unknown_keyword(name: str, where: str, names: Iterable[str]) -> UsageError:
    """The error for keyword ``name``, which ``where`` does not take, with a "did you mean"."""
    close = difflib.get_close_matches(name, sorted(names), n=1)
    hint = f"did you mean {close[0]}?" if close else f"it takes {', '.join(sorted(names))}"
    return UsageError(f"{where}() got an unknown keyword {name!r}: {hint}")


def declared(name: str) -> Declared:
    """How the CLI shows option ``name``."""
    return _DECLARED[name]


_DECLARED: dict[str, Declared] = {f.name: f.metadata["declared"] for f in fields(RunOptions)}
OPTION_NAMES = frozenset(_DECLARED)
DEFAULTS = RunOptions()


class CheckKeywords(TypedDict, total=False):
    """The options ``pdee.check`` takes (and ``pdee.run``, which takes more): the EE's
    limits, environment and inputs. Types and defaults: ``RunOptions``."""

    event_file: StrPath | None
    event: str | dict[str, Any] | None
    seed: int | None
    tmp_size: str | int
    memory: str | int
    timeout: float | None
    cpus: float | str | None
    inputs: StrPath | dict[str, Any] | None
    data_stores: Sequence[str] | Mapping[str, StrPath | None] | None
    step_results: Sequence[str] | Mapping[str, Any] | None
    env: Sequence[str] | dict[str, str] | None
    env_file: StrPath | None
    network: str
    allow_link_local: bool
    image: str
    offline: bool
    recycle: bool
    trigger: str | None
    throttle: str | None
    queue_size: int | None
    cron: str | None
    timezone: str | None
    auto_retry: bool | None


class RunKeywords(CheckKeywords, total=False):
    """Every option ``pdee.run``, ``pdee.serve`` and ``build_plan`` take: ``CheckKeywords``
    and the arrivals and lifecycle. Types and defaults: ``RunOptions``."""

    events: int | None
    schedule: StrPath | None
    interval: float | None
    rate: float | None
    mode: Mode | str
    concurrency: int
    idle_timeout: float | None
    chaos: float | None
    warm_workers: int
    resume_after: float | None
    resume_data: Any
    debug_port: int | None


CHECK_OPTION_NAMES = frozenset(CheckKeywords.__annotations__)
