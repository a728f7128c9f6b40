"""The ``pd`` object a step's ``handler(pd)`` receives, as the platform provides it.

Only JSON-serialisable data may leave a step (exports, return values, responses), as
on the platform; the checks happen where the step hands the data over, so the error's
traceback points at the step's own line.
"""

from __future__ import annotations

import json
from typing import Any


class FlowExit:
    """What ``pd.flow.exit(reason)`` returns, so that ``return pd.flow.exit(...)`` works."""

    def __init__(self, reason: str | None) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"FlowExit({self.reason!r})"


class Flow:
    """``pd.flow``: control of the workflow from inside a step."""

    def __init__(self) -> None:
        self.exit_reason: str | None = None
        self.exited = False

    def exit(self, reason: str | None = None) -> FlowExit:
        """End the workflow after this step: later steps do not run.

        Without ``return`` the rest of the step still runs, as on the platform.
        """
        self.exited = True
        self.exit_reason = None if reason is None else str(reason)
        return FlowExit(self.exit_reason)

    def delay(self, *_args: Any, **_kwargs: Any) -> None:
        """Not emulated: pdee runs each execution to its end in one go."""
        raise NotImplementedError("pd.flow.delay is not emulated by pdee")

    def rerun(self, *_args: Any, **_kwargs: Any) -> None:
        """Not emulated: pdee runs each execution to its end in one go."""
        raise NotImplementedError("pd.flow.rerun is not emulated by pdee")


def ensure_json(value: Any, what: str) -> Any:
    """Return ``value`` if it is JSON-serialisable, else raise the platform's TypeError.

    Args:
        value: the data a step hands over.
        what: how the error names it, e.g. ``export 'rows'``.

    Raises:
        TypeError: the value cannot be serialised to JSON.
    """
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be JSON-serializable: {exc}") from None
    return value


class Pipedream:
    """The ``pd`` argument of ``handler(pd: "pipedream")``."""

    def __init__(self, steps: dict[str, Any], inputs: dict[str, Any]) -> None:
        self.steps = steps
        self.inputs = inputs
        self.flow = Flow()
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
