"""The ``pd`` object a step's ``handler(pd)`` receives, as the platform provides it.

Only JSON-serialisable data may leave a step (exports, return values, responses), as
on the platform, nested at most ``protocol.MAX_DEPTH`` levels (what pdee reads); the
checks happen where the step hands the data over, so the error's traceback points at
the step's own line.
"""

from __future__ import annotations

import json

from .protocol import MAX_DEPTH, nesting_over

TYPE_CHECKING = False  # typing is not imported at run time: a step's process starts faster
if TYPE_CHECKING:
    from typing import Any

    from .protocol import Email, Pause, RerunInfo


class FlowExit:
    """What ``pd.flow.exit(reason)`` returns, so that ``return pd.flow.exit(...)`` works."""

    def __init__(self, reason: str | None) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"FlowExit({self.reason!r})"


MAX_DELAY_MS = 365 * 24 * 3600 * 1000  # a year, the platform's longest delay
SUSPEND_TIMEOUT_MS = 24 * 3600 * 1000  # the platform's default
URL_BASE = "https://pdee.invalid/flow"  # pdee's own: nothing answers them in `pdee run`
# ``pdee serve`` gives each execution where its URLs answer: ``<flow_url>/resume``,
# ``<flow_url>/cancel``, on the server that made the execution.


def _delay_ms(value: Any, what: str) -> float:
    """``value`` as milliseconds, 1 ms to a year (the platform's range).

    Raises:
        TypeError: not a number.
        ValueError: outside the range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} takes a number of milliseconds, not {value!r}")
    if not 1 <= value <= MAX_DELAY_MS:  # NaN fails too
        raise ValueError(f"{what} must be 1 ms to 1 year ({MAX_DELAY_MS} ms), not {value!r}")
    return float(value)


class Flow:
    """``pd.flow``: control of the workflow from inside a step.

    ``exit`` ends the workflow after the step; ``delay``, ``suspend`` and ``rerun``
    pause it at the end of the step (the last call wins), and pdee resumes it later on
    its virtual clock as a new execution.
    """

    def __init__(self, execution_id: str = "", runs: int = 1, url: str | None = None) -> None:
        self.exit_reason: str | None = None
        self.exited = False
        self.pause: Pause | None = None  # how the workflow pauses after the step
        self._execution_id = execution_id
        self._runs = runs  # pd.context["run"]["runs"] of this step
        self._url = url  # where this execution's flow URLs answer (pdee serve)

    def exit(self, reason: str | None = None) -> FlowExit:
        """End the workflow after this step: later steps do not run.

        Without ``return`` the rest of the step still runs, as on the platform.
        """
        self.exited = True
        self.exit_reason = None if reason is None else str(reason)
        return FlowExit(self.exit_reason)

    def _urls(self, kind: str) -> dict[str, str]:
        where = self._url or f"{URL_BASE}/{self._execution_id or 'execution'}/{kind}"
        return {"resume_url": f"{where}/resume", "cancel_url": f"{where}/cancel"}

    @staticmethod
    def _pause(kind: str, ms: float, urls: dict[str, str]) -> Pause:
        return {
            "kind": kind,
            "ms": ms,
            "resume_url": urls["resume_url"],
            "cancel_url": urls["cancel_url"],
        }

    def delay(self, ms: float) -> dict[str, str]:
        """Pause the workflow for ``ms`` milliseconds at the end of this step; the next
        step runs then, as a new execution. Returns ``resume_url`` and ``cancel_url``.

        Raises:
            TypeError, ValueError: ``ms`` is not 1 ms to 1 year.
        """
        urls = self._urls("delay")
        self.pause = self._pause("delay", _delay_ms(ms, "pd.flow.delay"), urls)
        return urls

    def suspend(self, timeout_ms: float | None = None) -> dict[str, str]:
        """Pause the workflow at the end of this step until its ``resume_url`` is called
        (``pdee run --resume-after``), cancelled after ``timeout_ms`` (24 hours).

        Raises:
            TypeError, ValueError: ``timeout_ms`` is not 1 ms to 1 year.
        """
        timeout = SUSPEND_TIMEOUT_MS if timeout_ms is None else timeout_ms
        urls = self._urls("suspend")
        self.pause = self._pause("suspend", _delay_ms(timeout, "pd.flow.suspend"), urls)
        return urls

    def rerun(self, delay_ms: float, context: Any = None, max_retries: int = 10) -> dict[str, str]:
        """Run this step again after ``delay_ms``, with ``context`` as
        ``pd.context["run"]["context"]``; past ``max_retries`` reruns the workflow goes
        on to the next step instead.

        Raises:
            TypeError: a non-JSON ``context``, or a ``max_retries`` that is not an int.
            ValueError: ``delay_ms`` outside 1 ms to 1 year, a negative ``max_retries``.
        """
        ms = _delay_ms(delay_ms, "pd.flow.rerun")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int):
            raise TypeError(f"pd.flow.rerun's max_retries is a whole number, not {max_retries!r}")
        if max_retries < 0:
            raise ValueError(f"pd.flow.rerun's max_retries cannot be negative ({max_retries})")
        ensure_json(context, "pd.flow.rerun's context")
        urls = self._urls("rerun")
        if self._runs <= max_retries:
            self.pause = {**self._pause("rerun", ms, urls), "context": context}
        else:  # retries exhausted: the workflow goes on to the next step
            self.pause = None
        return urls


class Send:
    """``pd.send``: what the platform sends for a step. pdee records it, sends nothing."""

    def __init__(self) -> None:
        self.emails: list[Email] = []

    def email(self, subject: str, text: str = "", html: str | None = "") -> None:
        """Email the workflow's owner (recorded by pdee, never sent). As on the platform,
        ``html`` defaults to ``""`` and is the body unless it is None."""
        for name, value in (("subject", subject), ("text", text)):
            if not isinstance(value, str):
                raise TypeError(f"pd.send.email's {name} is text, not {type(value).__name__}")
        if html is not None and not isinstance(html, str):
            raise TypeError(f"pd.send.email's html is text or None, not {type(html).__name__}")
        self.emails.append({"subject": subject, "text": text, "html": html})


def ensure_json(value: Any, what: str) -> Any:
    """Return ``value`` if it is JSON-serialisable, else raise the platform's TypeError;
    or a ValueError if it nests deeper than pdee carries (``MAX_DEPTH``, as pdee's
    decoder on the host counts).

    Args:
        value: the data a step hands over.
        what: how the error names it, e.g. ``export 'rows'``.

    Raises:
        TypeError: the value cannot be serialised to JSON.
        ValueError: it nests deeper than ``MAX_DEPTH`` levels.
    """
    try:
        text = json.dumps(value, allow_nan=False)
    except RecursionError:  # Python's encoder gave up: count the levels without it
        raise _too_deep(what, _depth(value)) from None
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be JSON-serializable: {exc}") from None
    deepest = nesting_over(text, MAX_DEPTH)
    if deepest:
        raise _too_deep(what, deepest)
    return value


def _too_deep(what: str, levels: int) -> ValueError:
    nests = f"{levels:,} levels" if levels > MAX_DEPTH else f"more than {MAX_DEPTH} levels"
    return ValueError(
        f"{what} nests {nests} deep; pdee carries JSON data at most {MAX_DEPTH} levels deep "
        f"(lists and dicts in one another): flatten it"
    )


def _depth(value: Any) -> int:
    """How deep ``value`` nests lists, tuples and dicts, without recursion (each one
    counted once, where it is first met)."""
    deepest, seen, stack = 0, set(), [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, tuple, dict)) and id(item) not in seen:
            seen.add(id(item))
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


class Pipedream:
    """The ``pd`` argument of ``handler(pd: "pipedream")``."""

    def __init__(
        self,
        steps: dict[str, Any],
        inputs: dict[str, Any],
        run: RerunInfo | None = None,
        flow_url: str | None = None,
    ) -> None:
        self.steps = steps
        self.inputs = inputs
        trigger_context = (steps.get("trigger") or {}).get("context") or {}
        run = run or {"runs": 1, "context": None}
        # pd.context: the execution's context, and this step's runs (pd.flow.rerun).
        self.context = {**trigger_context, "run": dict(run)}
        self.flow = Flow(str(trigger_context.get("id", "")), int(run.get("runs", 1)), flow_url)
        self.send = Send()
        self.exports: dict[str, Any] = {}
        self.response: dict[str, Any] | None = None

    def export(self, name: str, value: Any) -> None:
        """Export ``value`` as ``pd.steps["<this step>"][name]`` for later steps."""
        if not isinstance(name, str) or not name:
            raise TypeError("pd.export needs a non-empty string name")
        if name == "$return_value":
            raise ValueError("'$return_value' is reserved for the step's return value")
        self.exports[name] = ensure_json(value, f"export {name!r}")

    def respond(self, response: dict[str, Any]) -> None:
        """Record the HTTP response for the trigger's caller.

        Raises:
            TypeError: ``response`` is not a dict, or its body is not JSON-serialisable.
            ValueError: ``status`` or ``body`` is missing.
        """
        if not isinstance(response, dict):
            raise TypeError("pd.respond takes a dict with at least 'status' and 'body'")
        missing = [key for key in ("status", "body") if key not in response]
        if missing:
            raise ValueError(f"pd.respond needs {' and '.join(repr(k) for k in missing)}")
        self.response = ensure_json(response, "pd.respond's response")
