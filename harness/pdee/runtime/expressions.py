"""The ``{{ }}`` expressions of a step's props that pdee evaluates: paths over ``steps``.

On the platform a prop may hold ``{{ ... }}``, which is JavaScript run before the step
(``docs-v2/pages/workflows/using-props.mdx`` in ``PipedreamHQ/pipedream``). pdee
evaluates only the plain paths over ``steps``, which mean the same in any language::

    {{steps.trigger.event.body.text}}   {{steps.get_items.$return_value[0]["id"]}}

A prop that is exactly one such expression gets the value with its type (a list stays a
list); text with expressions in it is text, each value written as JavaScript's
``String(x)`` writes it. A path that is not there is JavaScript's ``undefined``: a prop
that is only that is left out of ``pd.inputs`` (JSON has no ``undefined``: an object
drops the key, a list holds ``null``), and in text it reads ``undefined``. Any other
expression (a method call, an operator, ``Date.now()``) is not a path: ``parse_path``
says None and pdee leaves the prop unset, with a note.

Standard library only, no state: the supervisor calls ``render`` just before the step,
when ``pd.steps`` is known; pdee's plan calls ``paths_only`` to decide which props come
here.
"""

from __future__ import annotations

import json
import re

TYPE_CHECKING = False  # typing is not imported at run time: the EE starts faster
if TYPE_CHECKING:
    from typing import Any

TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.S)
_IDENT = r"[A-Za-z_$][A-Za-z0-9_$]*"
_PART = re.compile(
    rf"\s*(?:\.\s*(?P<name>{_IDENT})|\[\s*(?:(?P<index>\d+)|\"(?P<dq>[^\"\\]*)\"|'(?P<sq>[^'\\]*)')\s*\])"
)
_ROOT = re.compile(r"\s*steps\b")
_INDEX = re.compile(r"0|[1-9][0-9]*")  # an array index as JavaScript writes it ("01" is not)


class _Missing:
    """JavaScript's ``undefined``: what a path that is not there gives."""

    def __repr__(self) -> str:
        return "undefined"


MISSING: Any = _Missing()


def parse_path(expression: str) -> list[str | int] | None:
    """The keys of a plain path over ``steps`` (the text inside ``{{ }}``), or None if
    it is any other expression."""
    match = _ROOT.match(expression)
    if match is None:
        return None
    keys: list[str | int] = []
    at = match.end()
    while at < len(expression):
        if not expression[at:].strip():
            break
        part = _PART.match(expression, at)
        if part is None:
            return None
        if part["name"] is not None:
            keys.append(part["name"])
        elif part["index"] is not None:
            keys.append(int(part["index"]))
        else:
            keys.append(part["dq"] if part["dq"] is not None else part["sq"])
        at = part.end()
    return keys


def expressions(value: Any) -> list[str]:
    """Every ``{{ }}`` expression in ``value`` (texts, in lists and objects), in order."""
    if isinstance(value, str):
        return [match.group(1) for match in TEMPLATE.finditer(value)]
    if isinstance(value, list):
        return [found for item in value for found in expressions(item)]
    if isinstance(value, dict):
        return [found for item in value.values() for found in expressions(item)]
    return []


def paths_only(value: Any) -> tuple[bool, list[str]]:
    """Whether ``value`` holds expressions, and those of them that are not plain paths
    over ``steps`` (the ones pdee does not evaluate)."""
    found = expressions(value)
    return bool(found), [text.strip() for text in found if parse_path(text) is None]


def steps_named(value: Any) -> list[str]:
    """The steps (``steps.NAME``) that the path expressions in ``value`` read, in order."""
    named = []
    for text in expressions(value):
        keys = parse_path(text)
        if keys and isinstance(keys[0], str) and keys[0] not in named:
            named.append(keys[0])
    return named


def lookup(keys: list[str | int], steps: dict[str, Any]) -> Any:
    """What the path ``steps`` + ``keys`` reads, as JavaScript reads it; ``MISSING``
    where it is not there (also past a missing or null value, where JavaScript throws)."""
    value: Any = steps
    for key in keys:
        if isinstance(value, dict):
            value = value.get(str(key), MISSING)
        elif isinstance(value, (list, str)):
            if key == "length":
                value = len(value)
            elif isinstance(key, int) or _INDEX.fullmatch(key):
                index = int(key)
                value = value[index] if index < len(value) else MISSING
            else:
                value = MISSING
        else:
            value = MISSING
        if value is MISSING:
            return MISSING
    return value


def as_text(value: Any) -> str:
    """``value`` as JavaScript's ``String(value)`` writes it."""
    if value is MISSING:
        return "undefined"
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, list):  # Array.prototype.join: null and undefined are empty
        return ",".join("" if item is None else as_text(item) for item in value)
    return "[object Object]"


def render(value: Any, steps: dict[str, Any]) -> Any:
    """``value`` with its path expressions evaluated against ``steps`` (``MISSING`` for
    a text that is exactly one path that is not there). Any other expression is left
    as written (pdee's plan keeps such props out)."""
    if isinstance(value, str):
        whole = TEMPLATE.fullmatch(value.strip())
        if whole is not None and "{{" not in whole.group(1):
            keys = parse_path(whole.group(1))
            if keys is not None:
                return lookup(keys, steps)
        return TEMPLATE.sub(lambda m: _replace(m, steps), value)
    if isinstance(value, list):
        items = [render(item, steps) for item in value]
        return [None if item is MISSING else item for item in items]
    if isinstance(value, dict):
        rendered = {key: render(item, steps) for key, item in value.items()}
        return {key: item for key, item in rendered.items() if item is not MISSING}
    return value


def _replace(match: re.Match[str], steps: dict[str, Any]) -> str:
    keys = parse_path(match.group(1))
    return match.group(0) if keys is None else as_text(lookup(keys, steps))


def resolve(props: dict[str, Any], steps: dict[str, Any]) -> dict[str, Any]:
    """The props that hold expressions, evaluated: those whose value is ``undefined``
    left out, as JSON leaves them."""
    rendered = {name: render(value, steps) for name, value in props.items()}
    return {name: value for name, value in rendered.items() if value is not MISSING}
