"""``pd.inputs["<prop>"]`` for a data store prop: the platform's ``Store``.

Every operation is one call to the run on the host (``Call``: the worker sends it on
its reply channel, the supervisor relays it over the EE's stdio and brings back the
answer), where the store's records are kept (``pdee.services.data_stores``). Values go
over as JSON, so what a step reads is a copy: changing a nested dict it read changes
nothing until the step assigns the whole value again, as on the platform.
"""

from __future__ import annotations

import math

from .pd import ensure_json

TYPE_CHECKING = False  # typing is not imported at run time: a step's process starts faster
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    Call = Callable[[dict[str, Any]], dict[str, Any]]


class Keys:
    """What ``Store.keys()`` returns: an iterable of the keys, not a list (so, as on the
    platform, it cannot be returned or exported from a step as it is)."""

    def __init__(self, keys: list[str]) -> None:
        self._keys = keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __repr__(self) -> str:
        return f"Keys({self._keys!r})"


# The longest TTL: a century, the longest run pdee plans (an expiry past it is never
# reached, and could not be written as a date).
MAX_TTL_S = 100 * 365.25 * 86400


def ttl_problem(ttl: Any) -> tuple[type[Exception], str] | None:
    """What is wrong with a TTL (None: nothing; it is None or a number of seconds, more
    than 0, at most ``MAX_TTL_S``): the exception a step gets, and why. The host asks
    the same of every call it answers."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not math.isfinite(ttl):
        return TypeError, f"ttl must be a number of seconds or None, not {ttl!r}"
    if not 0 < ttl <= MAX_TTL_S:
        return ValueError, (
            f"ttl must be a positive number of seconds, at most a century ({MAX_TTL_S:.0f}), "
            f"not {ttl!r}"
        )
    return None


def key_problem(key: Any) -> tuple[type[Exception], str] | None:
    """What is wrong with a data store key (None: nothing; it is text that UTF-8 can
    carry): the exception a step gets, and why. The host asks the same."""
    if not isinstance(key, str):
        return TypeError, f"data store keys are strings, not {type(key).__name__}"
    try:
        key.encode()
    except UnicodeEncodeError as exc:  # a lone surrogate, such as "\ud800"
        return ValueError, (
            f"data store key {key[:100]!r} is not valid Unicode text: {key[exc.start]!r} at "
            f"position {exc.start} is half of a surrogate pair"
        )
    return None


def _ttl(ttl: Any) -> float | None:
    problem = ttl_problem(ttl)
    if problem is not None:
        kind, why = problem
        raise kind(why)
    return None if ttl is None else float(ttl)


def _key(key: Any) -> str:
    problem = key_problem(key)
    if problem is not None:
        kind, why = problem
        raise kind(why)
    return str(key)


class Store:
    """A data store, as a step's ``pd.inputs["<prop>"]``."""

    def __init__(self, name: str, call: Call) -> None:
        self._name = name
        self._call = call

    def __repr__(self) -> str:
        return f"<Store {self._name!r}>"

    def _ask(self, op: str, **args: Any) -> dict[str, Any]:
        answer = self._call({"store": self._name, "op": op, **args})
        if answer.get("error"):
            raise RuntimeError(f"data store {self._name!r}: {answer['error']}")
        return answer

    def __getitem__(self, key: str) -> Any:
        """The value of ``key``.

        Raises:
            TypeError: there is no such key (the platform raises ``TypeError`` too).
        """
        answer = self._ask("get", key=_key(key))
        if not answer["found"]:
            raise TypeError(f"data store {self._name!r} has no key {key!r}")
        return answer["value"]

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` if there is no such key."""
        answer = self._ask("get", key=_key(key))
        return answer["value"] if answer["found"] else default

    def __setitem__(self, key: str, value: Any) -> None:
        self.set(key, value)

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Set ``key`` to ``value`` (JSON data); with ``ttl``, it expires after that many
        seconds (of pdee's virtual clock).

        Raises:
            TypeError: the key is not text, the value is not JSON-serialisable or the
                ttl not a number.
            ValueError: the key is not valid Unicode, the value nests too deep, or the
                ttl is not a positive number of seconds up to a century.
        """
        key = _key(key)
        ensure_json(value, f"the value of data store key {key!r}")
        self._ask("set", key=key, value=value, ttl=_ttl(ttl))

    def set_ttl(self, key: str, ttl: float | None = None) -> None:
        """Make ``key`` expire ``ttl`` seconds from now; ``ttl=None`` keeps it for good."""
        self._ask("set_ttl", key=_key(key), ttl=_ttl(ttl))

    def __contains__(self, key: object) -> bool:
        return key_problem(key) is None and bool(self._ask("has", key=key)["found"])

    def __delitem__(self, key: str) -> None:
        self._ask("delete", key=_key(key))

    def clear(self) -> None:
        """Delete every record of the store (irreversible, as on the platform)."""
        self._ask("clear")

    def keys(self) -> Keys:
        """The store's keys, as an iterable ``Keys`` object."""
        return Keys(list(self._ask("keys")["value"]))

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def items(self) -> Iterator[tuple[str, Any]]:
        """The store's records, as ``(key, value)`` pairs."""
        return ((key, value) for key, value in self._ask("items")["value"])
