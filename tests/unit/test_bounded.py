"""Bounded parsing everywhere a user or a step gives structure (issue 28), with no Docker:
JSON from users refuses NaN, Infinity and nesting past ``MAX_DEPTH`` in one line naming
where it came from; ``workflow.yaml`` is refused before anything is expanded when it
nests too deep or its aliases blow up, and its values must be JSON; the message decoder
never raises ``RecursionError`` or takes NaN, and what it cannot read from the EE is the
execution's error. Hypothesis searches the decoder and the ``workflow.yaml`` reader."""

from __future__ import annotations

import json
import math
import re
import resource
import socket
import struct
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdee.backends.channel import UNREADABLE, AttachedStream, ReplyProgress, next_reply
from pdee.errors import UsageError
from pdee.lifecycle.scheduler import Decision, Start
from pdee.plan.reading import MAX_DEPTH, loads, parse_json
from pdee.plan.run_plan import build_plan
from pdee.plan.synced import MAX_YAML_DEPTH, read_workflow
from pdee.results import reply
from pdee.results.records import Status
from pdee.runtime import protocol
from pdee.runtime.pd import ensure_json

STEP = "def handler(pd):\n    return 1\n"


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def at_stack_depth(frames: int, call: Any) -> Any:
    """``call()`` from ``frames`` Python frames further down the stack: as a lane's
    thread, or a test runner, calls the decoder."""
    if frames <= 0:
        return call()
    return at_stack_depth(frames - 1, call)


def one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert "\n" not in text, text
    return text


# -- JSON from users: every option and file, one place (plan/reading.py) ------------


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"a": NaN}', r"line 1, column 7: NaN, which JSON does not have; write null"),
        ("[1, Infinity]", r"line 1, column 5: Infinity, which JSON does not have"),
        ('{"s": "NaN -Infinity", "n": -Infinity}', r"column 29: -Infinity, which JSON"),
        (json.dumps(nested(MAX_DEPTH + 1)), rf"nests deeper than the {MAX_DEPTH} levels pdee"),
        ("[" * 100_000, r"nests deeper .*\(100,000 levels"),
    ],
)
def test_json_a_user_gives_is_refused_in_one_line_naming_it(text, match):
    with pytest.raises(UsageError, match=match) as caught:
        parse_json(text, "--event")
    assert one_line(caught).startswith("--event")


def test_json_at_the_bound_is_read_even_from_deep_in_the_stack():
    text = json.dumps({"a": nested(MAX_DEPTH - 1)})
    assert at_stack_depth(sys.getrecursionlimit() - MAX_DEPTH - 60, lambda: loads(text))
    assert loads('"NaN [[[ \\" {"') == 'NaN [[[ " {'


@pytest.mark.parametrize("where", ["event", "event_file", "inputs", "schedule", "step_result"])
@pytest.mark.parametrize("bad", ["NaN", "-Infinity", json.dumps(nested(MAX_DEPTH + 5))])
def test_each_json_option_refuses_nan_and_deep_data(write_step, tmp_path, where, bad):
    step = write_step("step", STEP)
    document = '{"ts": 0, "x": ' + bad + "}"
    options: dict[str, Any] = {}
    if where == "event":
        options["event"] = document
    elif where == "step_result":
        options["step_results"] = [f"other={bad}"]
    else:
        path = tmp_path / f"{where}.json"
        path.write_text(document)
        options[where] = path
    with pytest.raises(UsageError, match=r"NaN|Infinity|nests deeper") as caught:
        build_plan([step], **options)
    assert one_line(caught)


def test_resume_data_refuses_nan(write_step):
    step = write_step("step", STEP)
    with pytest.raises(UsageError, match=r"--resume-data is not JSON: .*NaN") as caught:
        build_plan([step], resume_after=10.0, resume_data='{"x": NaN}')
    assert one_line(caught)


def test_data_from_python_callers_keeps_the_same_bound(write_step):
    step = write_step("step", STEP)
    with pytest.raises(UsageError, match="nests too deep"):
        build_plan([step], event={"deep": nested(MAX_DEPTH)})
    with pytest.raises(UsageError, match="not JSON data"):
        build_plan([step], inputs={"n": math.inf})


# -- workflow.yaml: bounded before anything is expanded, JSON values only -----------

BASE = """\
schema: workflow/2022.04
name: {name}
triggers: {triggers}
steps:
- namespace: fetch
  runtime: python3.12
  uses: {uses}
  props:
    {props}
"""


def workflow(tmp_path: Path, name="w", triggers="[]", uses="./fetch/entry.py", props="a: 1"):
    folder = tmp_path / "wf"
    (folder / "fetch").mkdir(parents=True, exist_ok=True)
    (folder / "fetch" / "entry.py").write_text(STEP)
    text = BASE.format(name=name, triggers=triggers, uses=uses, props=props)
    (folder / "workflow.yaml").write_text(text)
    return folder


def laughs(levels: int = 9) -> str:
    """A billion laughs: each anchor nine aliases of the one before."""
    lines = ['l0: &l0 "lol"']
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "{" + ", ".join(lines) + "}"


@pytest.mark.parametrize("where", ["name", "props"])
def test_a_billion_laughs_is_refused_before_it_expands(tmp_path, where):
    bomb = laughs()
    assert len(bomb) < 500
    folder = workflow(tmp_path, **{where: f"bomb: {bomb}" if where == "props" else bomb})
    tracemalloc.start()
    try:
        with pytest.raises(UsageError, match=r"aliases \(\*name\) expand it past") as caught:
            read_workflow(folder)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, peak
    assert "workflow.yaml at line" in one_line(caught)


def test_a_billion_laughs_plan_stays_small_in_a_child_limited_to_1gb(tmp_path):
    """A regression that expands the aliases fails in the child, not on this host."""
    folder = workflow(tmp_path, name=laughs(), props=f"bomb: {laughs()}")
    code = (
        "import sys; from pdee.plan.run_plan import build_plan; from pdee.errors import UsageError\n"
        "try:\n"
        "    build_plan([sys.argv[1]])\n"
        "except UsageError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        capture_output=True, text=True, timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30)),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "expand it past" in done.stdout


@pytest.mark.parametrize(
    ("props", "match"),
    [
        ("deep: " + "[" * 50_000, f"nests deeper than {MAX_YAML_DEPTH}|exceeded maximum nesting"),
        ("deep:" + "".join("\n" + " " * (4 + i) + "- " for i in range(1_000)), "nests deeper"),
        ("deep: " + "[" * 975 + "]" * 975, f"nests deeper than {MAX_YAML_DEPTH} levels"),
        ("a: &a [*a]", r"alias \*a is inside the node it names"),
        ("a: &a " + "[" * 60 + "]" * 60 + "\n    b: " + "[" * 45 + "*a" + "]" * 45, "an alias"),
    ],
)
def test_yaml_past_its_bounds_is_one_line(tmp_path, props, match):
    with pytest.raises(UsageError, match=match) as caught:
        read_workflow(workflow(tmp_path, props=props))
    assert one_line(caught).endswith("fix the YAML")


def test_many_aliases_are_refused(tmp_path):
    props = "x: &x 1\n    many: [" + ", ".join(["*x"] * 101) + "]"
    with pytest.raises(UsageError, match=r"more than 100 aliases"):
        read_workflow(workflow(tmp_path, props=props))


def test_yaml_at_its_bounds_is_read(tmp_path):
    # The mapping of the file, steps, a step, its props, then the prop's own levels.
    props = "deep: " + "[" * (MAX_YAML_DEPTH - 4) + "]" * (MAX_YAML_DEPTH - 4)
    props += "\n    few: &few [1, 2]\n    again: [*few, *few]"
    steps = read_workflow(workflow(tmp_path, props=props)).steps
    assert steps[0].inputs["again"] == [[1, 2], [1, 2]]
    assert steps[0].inputs["deep"] == nested(MAX_YAML_DEPTH - 5, [])


@pytest.mark.parametrize(
    ("props", "said"),
    [
        (
            "when: 2024-01-01",
            "prop 'when' is a date (2024-01-01), which JSON does not have; quote it",
        ),
        ("at: 2024-01-01T10:00:00Z", "prop 'at' is a date"),
        ("raw: !!binary aGVsbG8=", "prop 'raw' is binary data (!!binary)"),
        ("tags: !!set {a, b}", "prop 'tags' is a set (!!set)"),
        ("n: .nan", "prop 'n' is .nan, which JSON does not have"),
        ("body: {a: [1, -.inf]}", "prop 'body' at .a[1] is -.inf"),
        ("h: {1: one}", "prop 'h' has a key 1, which is not text"),
        ("o: !!omap [a: 1]", "prop 'o' at [0] holds ordered pairs"),
        ("n: 0x" + "f" * 4000, "prop 'n' is a number too long for JSON"),
    ],
)
def test_values_that_are_not_json_name_the_step_and_prop(tmp_path, props, said):
    with pytest.raises(UsageError, match=re.escape(said)) as caught:
        read_workflow(workflow(tmp_path, props=props))
    assert "workflow.yaml: step fetch: " in one_line(caught)


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"triggers": "5"}, "triggers must be a list of triggers"),
        ({"name": "2024-01-01"}, r"workflow.yaml: name is a date"),
        ({"name": "{a: 1}"}, "name must be text"),
        ({"uses": '"./fetch/\\0entry.py"'}, r"uses './fetch/\\x00entry.py' is not one line"),
        ({"uses": "./" + "a" * 4000}, "is not one line of at most 1024"),
        ({"uses": "./" + "/".join(["a" * 250] * 4)}, "is not a path pdee can read|does not exist"),
        ({"props": "__configurableProps: 5"}, "__configurableProps must be a list"),
        ({"props": "n: " + "9" * 5000}, "Exceeds the limit"),
        ({"props": "t: !!timestamp 2024-13-45"}, "month must be in 1..12"),
    ],
)
def test_workflow_fields_that_crashed_are_one_line(tmp_path, fields, said):
    with pytest.raises(UsageError, match=said) as caught:
        read_workflow(workflow(tmp_path, **fields))
    assert len(one_line(caught)) < 400


def test_a_path_that_cannot_be_one_is_a_usage_error(tmp_path):
    for path in (tmp_path / ("a" * 5000), Path("step\0.py")):
        with pytest.raises(UsageError, match=r"File name too long|NUL character") as caught:
            build_plan([path])
        assert len(one_line(caught)) < 400


# Whatever workflow.yaml holds: a workflow or pdee's own error, one line.
yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.dates(),
    st.binary(max_size=8),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), children, max_size=3),
        st.frozensets(st.text(max_size=3), max_size=3).map(set),
    ),
    max_leaves=12,
)
yaml_fragments = st.sampled_from(
    ["&a ", "*a", "[", "]", "{", "}", ": ", "- ", "!!set ", "!!binary ", "\n  ", ",", "'", "<<: "]
)


def _check_reader(folder: Path) -> None:
    try:
        found = read_workflow(folder)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    for step in found.steps:
        json.dumps(step.inputs, allow_nan=False)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=yaml_values, triggers=yaml_values, props=yaml_values, steps=yaml_values)
def test_the_workflow_reader_gives_a_workflow_or_a_usage_error(
    tmp_path, name, triggers, props, steps
):
    document = {
        "schema": "workflow/2022.04",
        "name": name,
        "triggers": triggers,
        "steps": [
            {
                "namespace": "fetch",
                "runtime": "python3.12",
                "uses": "./fetch/entry.py",
                "props": props,
            },
            *(steps if isinstance(steps, list) else [steps]),
        ],
    }
    folder = workflow(tmp_path)
    (folder / "workflow.yaml").write_text(yaml.dump(document, Dumper=yaml.Dumper))
    _check_reader(folder)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.lists(st.one_of(yaml_fragments, st.text(max_size=6)), max_size=40).map("".join))
def test_any_text_as_workflow_yaml_gives_a_workflow_or_a_usage_error(tmp_path, text):
    folder = workflow(tmp_path)
    (folder / "workflow.yaml").write_text(
        "schema: workflow/2022.04\nsteps:\n- namespace: fetch\n  runtime: python3.12\n"
        "  uses: ./fetch/entry.py\n  props:\n    p: " + text + "\n",
        encoding="utf-8",
        errors="surrogatepass",
    )
    _check_reader(folder)


# -- the message decoder: bounded, never RecursionError, never NaN ------------------


def test_a_message_past_its_depth_is_refused_before_it_is_parsed():
    deep = protocol.encode({"type": "result", "steps": nested(protocol.MESSAGE_DEPTH)})
    for frames in (0, sys.getrecursionlimit() - 120):
        with pytest.raises(ValueError, match=f"past the {protocol.MESSAGE_DEPTH} pdee reads"):
            at_stack_depth(frames, lambda: protocol.decode(deep))
    assert protocol.kind(deep) == "result"
    at_the_bound = protocol.encode({"type": "result", "steps": nested(MAX_DEPTH)})
    assert at_stack_depth(
        sys.getrecursionlimit() - MAX_DEPTH - 60, lambda: protocol.decode(at_the_bound)
    )


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_messages_either_way(constant):
    with pytest.raises(ValueError, match=f"{constant} is not JSON"):
        protocol.decode(b'{"type":"call","call":{"ttl":' + constant.encode() + b"}}")
    with pytest.raises(ValueError, match="JSON compliant"):
        protocol.encode({"type": "call", "call": {"ttl": float(constant)}})


def test_every_line_starts_with_its_kind():
    line = protocol.encode({"call": {}, "type": "call"})  # type: ignore[typeddict-item]
    assert line.startswith(b'{"type":"call",') and protocol.kind(line) == "call"
    assert protocol.kind(b'{"call":1,"type":"call"}') is None
    assert protocol.kind(b"garbage") is None


def reference_depth(text: str) -> int:
    value = json.loads(text)
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            stack.extend(
                (child, level + 1) for child in (item.values() if isinstance(item, dict) else item)
            )
    return deepest


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3)
    ),
    max_leaves=40,
)


@settings(max_examples=150, deadline=None)
@given(value=json_values, limit=st.integers(min_value=0, max_value=8))
def test_nesting_is_counted_as_the_parser_nests(value, limit):
    text = json.dumps(value, ensure_ascii=False)
    depth = reference_depth(text)
    for given_text in (text, text.encode()):
        assert protocol.nesting_over(given_text, limit) == (depth if depth > limit else 0)


@settings(max_examples=200, deadline=None)
@given(
    line=st.one_of(
        st.binary(max_size=200),
        json_values.map(lambda v: json.dumps({"type": "call", "call": v}).encode()),
        st.lists(
            st.sampled_from(["[", "]", "{", "}", '"', "\\", "NaN", "1", ",", ':"x":']), max_size=60
        ).map(lambda parts: ('{"type":"result","x":' + "".join(parts)).encode()),
        st.integers(min_value=0, max_value=3000).map(
            lambda n: b'{"type":"result","v":' + b"[" * n + b"]" * n + b"}"
        ),
    )
)
def test_the_decoder_gives_a_message_or_a_value_error(line):
    try:
        message = at_stack_depth(sys.getrecursionlimit() - 150, lambda: protocol.decode(line))
    except ValueError as exc:
        assert "\n" not in str(exc)[:300]
        return
    assert isinstance(message, dict) and isinstance(message["type"], str)
    protocol.encode(message)  # what was read can be sent on


def test_a_pathological_line_is_scanned_in_linear_time():
    line = b'{"type":"result","x":"' + b'\\"' * 1_000_000 + b"[" * 600
    started = time.monotonic()
    with pytest.raises(ValueError):
        protocol.decode(line)
    assert time.monotonic() - started < 5


# -- the step's own check matches the host's bound ----------------------------------


def test_the_steps_check_refuses_what_the_host_would_not_read():
    ensure_json(nested(MAX_DEPTH), "the step's return value")
    with pytest.raises(ValueError, match=rf"nests {MAX_DEPTH + 1} levels deep; pdee carries"):
        ensure_json(nested(MAX_DEPTH + 1), "the step's return value")
    with pytest.raises(ValueError, match="nests 100,000 levels deep; pdee carries"):
        ensure_json(nested(100_000), "export 'x'")
    # What passes the step's check passes the host's decoder, in its deepest place.
    value = nested(MAX_DEPTH)
    result = {"type": "result", "steps": {"s": {"exports": {"x": value}}}}
    assert at_stack_depth(
        sys.getrecursionlimit() - MAX_DEPTH - 80, lambda: protocol.decode(protocol.encode(result))
    )  # type: ignore[arg-type]


# -- what the host cannot read from the EE is the execution's error -----------------


class Runtime:
    """The EE's side of a channel: writes lines as Docker frames them."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb")

    def say(self, line: bytes) -> None:
        self.sock.sendall(struct.pack(">BxxxL", 1, len(line)) + line)


@pytest.fixture
def channel():
    host, ee = socket.socketpair()
    stream = AttachedStream(host)
    yield stream, Runtime(ee)
    stream.close()
    ee.close()


def test_a_call_the_host_cannot_read_is_answered_with_an_error(channel):
    stream, runtime = channel
    runtime.say(b'{"type":"step","index":0,"name":"deep"}\n')
    runtime.say(b'{"type":"call","call":{"op":"set","key":"k","ttl":NaN}}\n')
    runtime.say(protocol.encode({"type": "call", "call": {"op": "set", "value": nested(600)}}))
    runtime.say(protocol.encode({"type": "call", "call": ["not", "a", "call"]}))  # type: ignore[typeddict-item]
    runtime.say(protocol.encode({"type": "ready", "packages_bytes": 0}))
    calls: list[Any] = []
    answered = next_reply(stream, time.monotonic() + 10, ReplyProgress(), calls.append)
    assert answered == {"type": "ready", "packages_bytes": 0} and calls == []
    answers = [protocol.decode(runtime.reader.readline())["answer"]["error"] for _ in range(3)]
    assert "NaN is not JSON" in answers[0] and "nests 602 levels deep" in answers[1]
    assert answers[2] == "a call is a JSON object, not list"


def test_a_result_the_host_cannot_read_is_the_executions_error(channel):
    stream, runtime = channel
    runtime.say(b'{"type":"step","index":0,"name":"deep"}\n')
    runtime.say(protocol.encode({"type": "log", "name": "deep", "data": "made it\n"}))
    runtime.say(b'{"type":"result","index":0,"steps":' + b"[" * 990 + b"]" * 990 + b"}\n")
    answered = next_reply(stream, time.monotonic() + 10, ReplyProgress())
    assert answered is not None and answered["type"] == protocol.RESULT
    error = answered["error"]
    assert error is not None and error["type"] == UNREADABLE and error.get("step") == "deep"
    assert "nests 991 levels deep" in error["message"]
    assert answered["steps"]["deep"]["logs"] == "made it\n"
    record = reply.execution(reply.Known(Decision(0, 0.0, 0.0, "ee-1", Start.COLD)), answered)
    assert record.status is Status.ERROR and record.error is not None
    assert any("could not read the EE's result" in note for note in record.notes)
    json.dumps(record.error.message)


def test_a_line_that_is_no_message_at_all_still_breaks_the_ee(channel):
    stream, runtime = channel
    runtime.say(b"Traceback (most recent call last):\n")
    with pytest.raises(ValueError, match="is not a message"):
        next_reply(stream, time.monotonic() + 10, ReplyProgress())
