"""The runtime's pure parts: pd, running a handler, measuring, without Docker."""

from __future__ import annotations

import os

import pytest

from pdee.runtime import protocol
from pdee.runtime.pd import FlowExit, Pipedream
from pdee.runtime.usage import process_memory, session_of, tmp_usage
from pdee.runtime.worker import describe_error, run_handler


def make_pd() -> Pipedream:
    return Pipedream({"trigger": {"event": {}, "context": {}}}, {"url": "u"})


def test_export_and_respond_validate_like_the_platform():
    pd = make_pd()
    pd.export("rows", [1, 2])
    assert pd.exports == {"rows": [1, 2]}
    with pytest.raises(TypeError, match="JSON-serializable"):
        pd.export("bad", object())
    with pytest.raises(ValueError, match="reserved"):
        pd.export("$return_value", 1)
    with pytest.raises(ValueError, match="'body'"):
        pd.respond({"status": 200})
    with pytest.raises(TypeError, match="a dict"):
        pd.respond("ok")  # type: ignore[arg-type]
    pd.respond({"status": 200, "body": {"ok": True}})
    assert pd.response == {"status": 200, "body": {"ok": True}}


def test_flow_exit_returns_a_marker():
    pd = make_pd()
    marker = pd.flow.exit("done")
    assert isinstance(marker, FlowExit) and pd.flow.exited and pd.flow.exit_reason == "done"
    with pytest.raises(NotImplementedError):
        pd.flow.delay(10)


def test_run_handler_outcomes():
    def ok(pd):
        pd.export("x", 1)
        return {"inputs": pd.inputs}

    def exits(pd):
        return pd.flow.exit("stop")

    def fails(pd):
        raise KeyError("missing")

    outcome = run_handler(ok, __file__, {}, {"url": "u"})
    assert (outcome["return_value"], outcome["exports"], outcome["error"]) == (
        {"inputs": {"url": "u"}},
        {"x": 1},
        None,
    )
    outcome = run_handler(exits, __file__, {}, {})
    assert outcome["exit"] == {"reason": "stop"} and outcome["return_value"] is None
    outcome = run_handler(fails, __file__, {}, {})
    assert outcome["error"]["type"] == "KeyError"
    assert "in fails" in outcome["error"]["traceback"]
    assert "run_handler" not in outcome["error"]["traceback"]
    outcome = run_handler(lambda pd: {1, 2}, __file__, {}, {})
    assert outcome["error"]["type"] == "TypeError"


def test_describe_error_without_step_frames_keeps_only_the_exception():
    try:
        compile("x = (", "/tmp/__pdg__/dist/code/h/code.py", "exec")
    except SyntaxError as exc:
        error = describe_error(exc, "/tmp/__pdg__/dist/code/h/code.py")
    assert error["type"] == "SyntaxError"
    assert 'File "/tmp/__pdg__/dist/code/h/code.py", line 1' in error["traceback"]
    assert "test_runtime" not in error["traceback"]


def test_process_memory_leaves_out_shared_memory():
    status = "Name:\tpython3\nRssAnon:\t  1000 kB\nRssFile:\t  200 kB\nRssShmem:\t 900000 kB\n"
    assert process_memory(status) == 1200 * 1024


def test_session_of_handles_spaces_in_names():
    assert session_of("42 (my step) S 1 42 77 0 -1 4194560") == 77


def test_session_memory_of_this_process_is_counted():
    from pdee.runtime.usage import session_memory

    assert session_memory(os.getsid(0)) > 1024 * 1024


def test_tmp_usage_counts_files_outside_pdg(tmp_path):
    (tmp_path / "__pdg__" / "dist").mkdir(parents=True)
    (tmp_path / "__pdg__" / "dist" / "code.py").write_text("x")
    (tmp_path / "a").write_text("x")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b").write_text("y")
    usage = tmp_usage(str(tmp_path), (str(tmp_path / "__pdg__" / "dist" / "code.py"),))
    assert usage.files == 2 and usage.platform_files_intact
    assert not tmp_usage(str(tmp_path), (str(tmp_path / "gone"),)).platform_files_intact


def test_protocol_round_trip_and_code_path():
    message = {"type": "run", "event": {"ü": [1, None]}}
    assert protocol.decode(protocol.encode(message)) == message
    with pytest.raises(ValueError):
        protocol.decode(b"[1]")
    assert protocol.code_path("abc") == "/tmp/__pdg__/dist/code/abc/code.py"
