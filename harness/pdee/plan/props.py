"""What each step gets: its ``pd.inputs``, its data stores, and, for a step pdee does
not run, the return value later steps see.

Step files all get the same ``--inputs`` and every ``--data-store`` under its own
name. A synced workflow's steps get their own: the literal props of ``workflow.yaml``
(and its ``{{ }}`` path expressions, evaluated in the EE before the step), then the
shared ``--inputs``, then the step's entry under ``"$steps"`` in that file; and each
data store prop the store its ``storeId`` names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from os import PathLike
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .reading import dumps_checked, parse_json
from .steps import STEP_INPUTS_KEY, StandIn, Step, StrPath, read_json_file

STORE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def with_inputs(steps: list[Step], inputs: dict[str, Any]) -> list[Step]:
    """Each step with its ``pd.inputs``: its own props, the shared inputs over them, and
    its entry under ``"$steps"`` over both.

    Raises:
        UsageError: ``"$steps"`` is not an object of step names to objects.
    """
    shared = {key: value for key, value in inputs.items() if key != STEP_INPUTS_KEY}
    own = inputs.get(STEP_INPUTS_KEY, {})
    names = [step.name for step in steps if step.runs]
    if not isinstance(own, dict) or not all(isinstance(v, dict) for v in own.values()):
        raise UsageError(
            f'--inputs: "{STEP_INPUTS_KEY}" must map step names to objects, like '
            f'{{"{STEP_INPUTS_KEY}": {{"{names[0]}": {{"city": "NOLA"}}}}}}'
        )
    for name in own:
        if name not in names:
            raise UsageError(
                f'--inputs: "{STEP_INPUTS_KEY}" names step {name!r}, which is not a Python '
                f"step of this workflow ({', '.join(names)})"
            )
    return [
        _given(step, {**shared, **own.get(step.name, {})}) if step.runs else step for step in steps
    ]


def _given(step: Step, given: dict[str, Any]) -> Step:
    """``step`` with ``given`` over its props: a prop given is no longer one that an
    expression evaluates or that pdee cannot give."""
    return replace(
        step,
        inputs={**step.inputs, **given},
        expressions={k: v for k, v in step.expressions.items() if k not in given},
        unset={k: v for k, v in step.unset.items() if k not in given},
    )


def given_stores(
    stores: Sequence[str] | Mapping[str, StrPath | None] | None,
) -> dict[str, Path | None]:
    """``--data-store`` as given: ``NAME`` or ``NAME=PATH`` texts, or a mapping of names
    to paths (None: a store for the run only).

    Raises:
        UsageError: a bad or repeated name, or an empty path.
    """
    if stores is None:
        return {}
    if isinstance(stores, (str, PathLike)):
        raise UsageError("data_stores: give a list like ['data_store'] or a dict of paths")
    pairs: list[tuple[str, StrPath | None]] = []
    if isinstance(stores, Mapping):
        pairs = [(str(name), path) for name, path in stores.items()]
    else:
        for text in stores:
            name, sep, given = str(text).partition("=")
            pairs.append((name, given if sep else None))
    found: dict[str, Path | None] = {}
    for name, path in pairs:
        if not STORE_NAME.match(name):
            raise UsageError(
                f"--data-store {name!r}: give the prop's name (letters, digits, _), e.g. "
                f"data_store or data_store=.pdee/data.db"
            )
        if name in found:
            raise UsageError(f"--data-store {name} is given twice; give each prop once")
        if path is not None and not str(path):
            raise UsageError(f"--data-store {name}=: give a file path after =, or no =")
        found[name] = Path(path) if path is not None else None
    return found


def with_stores(
    steps: list[Step], stores: Sequence[str] | Mapping[str, StrPath | None] | None
) -> tuple[list[Step], dict[str, Path | None]]:
    """Each step with its data store props, and the run's stores by key (a file, or
    None: for the run only).

    Step files: each ``--data-store`` NAME is a prop of every step, and the store's key.
    A synced workflow: its data store props are attached, one store per ``storeId``;
    ``--data-store`` names a prop or a ``storeId`` to give its store a file.

    Raises:
        UsageError: a bad name, one that the workflow does not have, a prop name that
            stands for two stores, or a prop that ``pd.inputs`` gives too.
    """
    given = given_stores(stores)
    if all(step.stores is None for step in steps):
        wired = [replace(step, stores={name: name for name in given}) for step in steps]
        _check_clashes(wired)
        return wired, given
    keys: dict[str, Path | None] = {}
    props: dict[str, set[str]] = {}
    for step in steps:
        for prop, key in (step.stores or {}).items():
            keys[key] = None
            props.setdefault(prop, set()).add(key)
    for name, path in given.items():
        if name in keys:
            keys[name] = path
        elif len(props.get(name, ())) == 1:
            keys[next(iter(props[name]))] = path
        elif name in props:
            ids = ", ".join(sorted(props[name]))
            raise UsageError(
                f"--data-store {name}: the prop {name} names {len(props[name])} stores "
                f"({ids}); give the storeId instead"
            )
        else:
            known = ", ".join(f"{p} ({', '.join(sorted(k))})" for p, k in sorted(props.items()))
            raise UsageError(
                f"--data-store {name}: the workflow has no such data store prop or storeId; "
                f"its data stores: {known or 'none'}"
            )
    _check_clashes(steps)
    return steps, keys


def _check_clashes(steps: list[Step]) -> None:
    for step in steps:
        for prop in step.stores or {}:
            if prop in step.inputs:
                raise UsageError(
                    f"--data-store {prop} and --inputs both give pd.inputs[{prop!r}] of step "
                    f"{step.name}; drop one"
                )


def with_results(
    steps: list[Step], results: Sequence[str] | Mapping[str, Any] | None
) -> list[Step]:
    """The stand-in steps with the return values given them (``--step-result``:
    ``NAME=JSON`` or ``NAME=@FILE`` texts, or a mapping of names to JSON data); a
    registry action pdee emulates, given one, becomes a stand-in.

    Raises:
        UsageError: a malformed text, data that is not JSON, or a name that is not a
            step pdee does not run.
    """
    if results is None:
        return steps
    if isinstance(results, (str, PathLike)):
        raise UsageError("step_results: give a list like ['notify={}'] or a dict")
    values: dict[str, Any] = {}
    if isinstance(results, Mapping):
        for name, value in results.items():
            dumps_checked(value, f"step_results[{name!r}]")
            values[str(name)] = value
    else:
        for text in results:
            name, sep, value = str(text).partition("=")
            if not sep or not name:
                raise UsageError(
                    f"--step-result {text!r}: write NAME=JSON or NAME=@FILE, e.g. "
                    f"notify='{{\"sent\": true}}'"
                )
            if value.startswith("@"):
                values[name] = read_json_file(Path(value[1:]), "step result file")
            else:
                values[name] = parse_json(value, f"--step-result {name}")
    by_name = {step.name: step for step in steps}
    for name in values:
        step = by_name.get(name)
        if step is None or (step.stand_in is None and step.action is None):
            unrun = [s.name for s in steps if s.stand_in is not None or s.action is not None]
            what = "a Python step, which pdee runs" if step else "not a step of the workflow"
            raise UsageError(
                f"--step-result {name}: {what}; it gives what a step pdee cannot run returns "
                f"({', '.join(unrun) or 'this workflow has none'})"
            )
    return [
        replace(step, stand_in=StandIn(_what(step), values[step.name], True))
        if step.name in values
        else step
        for step in steps
    ]


def _what(step: Step) -> str:
    """What a step given a ``--step-result`` is: a stand-in's, or the action pdee would
    have emulated (a given result stands it in)."""
    return step.stand_in.what if step.stand_in is not None else f"action {step.action}"
