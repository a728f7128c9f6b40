"""The runtime's pure parts: pd, running a handler, measuring, without Docker."""

from __future__ import annotations

import os

import pytest

from pdee.results.records import StepResult
from pdee.runtime import protocol, usage
from pdee.runtime.pd import FlowExit, Pipedream
from pdee.runtime.steps import StepSpec
from pdee.runtime.supervisor import StepWait, Supervisor
from pdee.runtime.usage import parse_memory_stat, process_peak, session_of, tmp_usage
from pdee.runtime.worker import TmpPeak, describe_error, run_handler


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


def test_flow_delay_suspend_and_rerun_pause_at_the_end_of_the_step():
    pd = Pipedream({"trigger": {"context": {"id": "abc", "trace_id": "abc"}}}, {})
    urls = pd.flow.delay(15 * 60 * 1000)
    assert set(urls) == {"resume_url", "cancel_url"} and "abc" in urls["resume_url"]
    assert pd.flow.pause is not None and pd.flow.pause["kind"] == "delay"
    assert pd.flow.pause["ms"] == 900_000
    pd.flow.suspend()  # the last call wins
    assert pd.flow.pause["kind"] == "suspend" and pd.flow.pause["ms"] == 24 * 3600 * 1000
    pd.flow.rerun(1000, {"hello": "world"}, 3)
    assert pd.flow.pause["kind"] == "rerun" and pd.flow.pause["context"] == {"hello": "world"}
    assert pd.context["id"] == "abc" and pd.context["run"] == {"runs": 1, "context": None}


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda pd: pd.flow.delay(0), ValueError),
        (lambda pd: pd.flow.delay(366 * 24 * 3600 * 1000), ValueError),
        (lambda pd: pd.flow.delay("10"), TypeError),
        (lambda pd: pd.flow.delay(float("nan")), ValueError),
        (lambda pd: pd.flow.rerun(1000, None, -1), ValueError),
        (lambda pd: pd.flow.rerun(1000, {1, 2}), TypeError),
        (lambda pd: pd.flow.suspend(0), ValueError),
        (lambda pd: pd.send.email(subject=3, text="x"), TypeError),
    ],
)
def test_bad_flow_arguments_are_the_steps_own_errors(call, error):
    with pytest.raises(error):
        call(Pipedream({}, {}))


def test_rerun_past_max_retries_does_not_pause():
    pd = Pipedream({}, {}, run={"runs": 4, "context": None})
    pd.flow.rerun(1000, None, 3)
    assert pd.flow.pause is None and pd.context["run"]["runs"] == 4


def test_send_email_is_recorded():
    pd = Pipedream({}, {})
    pd.send.email(subject="Approve", text="please", html=None)
    assert pd.send.emails == [{"subject": "Approve", "text": "please", "html": None}]


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


def test_a_syntax_error_names_the_users_file_in_its_message_and_traceback():
    copy = "/tmp/__pdg__/dist/code/h/code.py"
    try:
        compile("x = 1\ny = (", copy, "exec")
    except SyntaxError as exc:
        error = describe_error(exc, copy, "steps/entry.py")
    assert error["message"].endswith("(entry.py, line 2)"), error["message"]
    assert 'File "steps/entry.py", line 2' in error["traceback"]
    assert "code.py" not in error["message"] + error["traceback"]
    assert error["file"] == "steps/entry.py" and error["line"] == 2


def test_a_timeout_names_its_type_once():
    supervisor = Supervisor()
    supervisor.timeout_s = 30.0
    error = supervisor.timeout_error()
    shown = f"{error['type']}: {error['message']}"
    assert shown.startswith("Timeout: the execution ran past 30 s"), shown
    assert shown.count("Timeout") == 1


def test_process_peak_is_the_high_water_mark_less_mapped_files():
    status = (
        "Name:\tpython3\nVmHWM:\t  700000 kB\nRssAnon:\t  1000 kB\n"
        "RssFile:\t  200 kB\nRssShmem:\t 90000 kB\n"
    )
    assert process_peak(status) == (700000 - 200 - 90000) * 1024
    assert process_peak("Name:\tx\n") == 0
    assert process_peak("VmHWM:\t 10 kB\nXRssFile:\t 4 kB") == 10 * 1024  # whole names only


def test_session_of_handles_spaces_in_names():
    assert session_of("42 (my step) S 1 42 77 0 -1 4194560") == 77


def test_memory_stat_sums_the_named_counters():
    text = "cache 300\nrss 1000\nshmem 50\ntotal_rss 4000\ntotal_shmem 600\n"
    assert parse_memory_stat(text, ("total_rss", "total_shmem")) == 4600
    assert parse_memory_stat("anon 7\nshmem 3\nfile 100\n", ("anon", "shmem")) == 10
    # a counter whose name starts another's, first, last without a newline, or absent
    text = "anon_thp 500\nanon 7\nshmem_thp 900\nshmem 3"
    assert parse_memory_stat(text, ("anon", "shmem")) == 10
    assert parse_memory_stat("file 100\n", ("anon", "shmem")) == 0


def test_meter_takes_tmp_out_of_the_cgroup_figure(tmp_path, monkeypatch):
    stat = tmp_path / "memory.stat"
    used = 500 * 2**20  # what /tmp holds
    stat.write_text(f"anon {100 * 2**20}\nshmem {used + 30 * 2**20}\nfile {10**9}\n")
    monkeypatch.setattr(usage, "CGROUP_MEMORY_STATS", ((str(stat), "anon", "shmem"),))
    meter = usage.MemoryMeter(tmp=str(tmp_path))
    monkeypatch.setattr(meter, "tmp_used", lambda: used)
    assert meter.source.startswith("cgroup")
    # anon + shared memory, less what /tmp holds; the page cache (file) is not counted
    assert meter.current() == 130 * 2**20


def test_meter_without_a_cgroup_sums_the_processes_anonymous_memory(tmp_path, monkeypatch):
    proc = tmp_path / "proc"
    for pid, anon in (("1", 100), ("7", 2000), ("8", 3000)):
        (proc / pid).mkdir(parents=True)
        (proc / pid / "status").write_text(f"RssAnon:\t{anon} kB\nVmHWM:\t{anon * 2} kB\n")
    (proc / "self").mkdir()
    monkeypatch.setattr(usage, "CGROUP_MEMORY_STATS", ((str(tmp_path / "none"), "a", "s"),))
    meter = usage.MemoryMeter(tmp=str(tmp_path), proc=str(proc))
    assert meter.current() == 5100 * 1024
    peak = usage.ProcessPeak(7, proc=str(proc))  # no clear_refs here: reset does nothing
    peak.reset()
    assert peak.peak() == 4000 * 1024
    peak.close()
    assert peak.peak() == 0


def test_stderr_lines_are_marked_in_the_combined_logs():
    wait = StepWait()
    wait.add_logs(b"one\ntwo\n", "stdout")
    wait.add_logs(b"warn\n", "stderr")
    wait.add_logs(b"half ", "stdout")
    wait.add_logs(b"shared\nerr2\n", "stderr")
    wait.add_logs(b"last\n", "stdout")
    assert wait.logs == b"one\ntwo\nwarn\nhalf shared\nerr2\nlast\n"
    assert wait.stderr_lines == [2, 3, 4]
    step = StepResult.from_json({"logs": wait.logs.decode(), "stderr_lines": wait.stderr_lines})
    assert [stream for stream, _ in step.log_lines()] == [
        "stdout",
        "stdout",
        "stderr",
        "stderr",
        "stderr",
        "stdout",
    ]


def test_payload_counts_return_values_and_names_the_step():
    event_bytes = len('{"a": 1}')
    small = {"logs": "x", "exports": {}, "return_value": None}
    big = {"logs": "", "exports": {}, "return_value": "y" * (6 * 2**20)}
    assert Supervisor.payload_over(event_bytes, {"a": small}) is None
    step, size = Supervisor.payload_over(event_bytes, {"a": small, "b": big, "c": small})
    assert step == "b" and size > 6 * 2**20


def test_an_event_over_the_payload_limit_runs_no_step():
    supervisor = Supervisor()
    supervisor.specs = [StepSpec("never", "/nonexistent/code.py", "never.py")]
    reply = supervisor.run({"event": {"blob": "z" * (7 * 2**20)}, "context": {}, "index": 0})
    assert reply["status"] == "error" and reply["steps"] == {}
    assert reply["error"]["type"] == "FunctionPayloadLimitExceeded"
    assert reply["error"]["message"].startswith("Function Payload Limit Exceeded: the event alone")
    assert reply["error"]["step"] is None


def test_tracebacks_name_the_users_file_and_line():
    path = "/tmp/__pdg__/dist/code/h/code.py"
    code = compile("def handler(pd):\n    x = 1\n    raise KeyError('k')\n", path, "exec")
    scope: dict = {}
    exec(code, scope)
    outcome = run_handler(scope["handler"], path, {}, {}, "bugs/raises.py")
    error = outcome["error"]
    assert 'File "bugs/raises.py", line 3, in handler' in error["traceback"]
    assert path not in error["traceback"]
    assert (error["file"], error["line"]) == ("bugs/raises.py", 3)


def test_tmp_peak_samples_before_removals_and_truncations(tmp_path):
    peak = TmpPeak(str(tmp_path))
    peak.enabled = True
    samples = []
    peak.sample = lambda: samples.append(1)  # type: ignore[method-assign]
    peak.hook("os.remove", ("/tmp/x", None))
    peak.hook("open", ("/tmp/x", "w", 0))
    peak.hook("open", ("/tmp/x", None, os.O_WRONLY | os.O_TRUNC))
    peak.hook("open", ("/tmp/x", "r", 0))
    peak.hook("import", ("x",))
    assert len(samples) == 3
    peak.enabled = False
    peak.hook("os.remove", ("/tmp/x", None))
    assert len(samples) == 3


def test_tmp_usage_counts_files_outside_pdg(tmp_path):
    (tmp_path / "__pdg__" / "dist").mkdir(parents=True)
    (tmp_path / "__pdg__" / "dist" / "code.py").write_text("x")
    (tmp_path / "a").write_text("x")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b").write_text("y")
    usage = tmp_usage(str(tmp_path), (str(tmp_path / "__pdg__" / "dist" / "code.py"),))
    assert usage.files == 2 and usage.platform_files_intact
    assert usage.some_files == [f"{tmp_path}/a", f"{tmp_path}/d/b"]
    assert not tmp_usage(str(tmp_path), (str(tmp_path / "gone"),)).platform_files_intact


def test_tmp_usage_walks_deep_from_an_open_directory_without_following_links(tmp_path):
    deep = tmp_path / "d" / "e" / "__pdg__"  # only the top-level __pdg__ is the platform's
    deep.mkdir(parents=True)
    (deep / "c").write_text("z")
    (tmp_path / "link").symlink_to(tmp_path / "d", target_is_directory=True)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        usage = tmp_usage(str(tmp_path), (str(deep / "c"),), tmp_fd=fd)
        # the same descriptor serves every execution: a read must not leave it at the end
        assert tmp_usage(str(tmp_path), tmp_fd=fd).files == 2
    finally:
        os.close(fd)
    assert usage.files == 2  # the file and the link itself
    assert usage.some_files == [f"{tmp_path}/d/e/__pdg__/c", f"{tmp_path}/link"]
    assert usage.platform_files_intact


def test_protocol_round_trip_and_code_path():
    message = {"type": protocol.RUN, "event": {"ü": [1, None]}}
    assert protocol.decode(protocol.encode(message)) == message
    with pytest.raises(ValueError):
        protocol.decode(b"[1]")
    assert protocol.code_path("abc") == "/tmp/__pdg__/dist/code/abc/code.py"
