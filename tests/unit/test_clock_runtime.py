"""The step's clock, the pure parts (issue 29): the runtime's ``clock`` module where its
extension is missing (this host: the fallback, in a process of its own, since it patches
``time``), what pdee sends an EE, and the report's ``settings.clock``. Against the real
image, with time-machine: ``tests/integration/test_step_clock.py``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from test_protocol import plan

from pdee.engine.ee_work import EEWork
from pdee.engine.runner import clock_setting
from pdee.runtime import clock

DAY = 86400


def in_own_process(code: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_without_the_extension_the_time_functions_follow_the_offset_and_say_so():
    got = in_own_process(
        """
        import json, time
        from datetime import date, datetime
        from pdee.runtime import clock
        clock.VENDOR = "/nonexistent"
        before, mono = time.time(), time.monotonic()
        mechanism = clock.install()
        clock.set_offset(86400)
        out = {
            "mechanism": mechanism,
            "time": time.time() - before,
            "time_ns": time.time_ns() / 1e9 - before,
            "gmtime": time.mktime(time.gmtime()) - time.mktime(time.gmtime(before)),
            "monotonic": time.monotonic() - mono,
            "ctime": time.ctime() == time.ctime(time.time()),
            "now": datetime.now().timestamp() - before,
        }
        clock.set_offset(0)
        out["back"] = time.time() - before
        print(json.dumps(out))
        """
    )
    assert got["mechanism"] == "time-only"
    for key in ("time", "time_ns", "gmtime"):
        assert got[key] == pytest.approx(DAY, abs=5), key
    assert got["monotonic"] < 5 and got["ctime"] is True
    assert got["now"] < 5  # the fallback's limit: datetime.now() stays real
    assert got["back"] < 5


def test_a_clock_going_back_resets_uuid1s_last_stamp():
    got = in_own_process(
        """
        import json, uuid
        from pdee.runtime import clock
        clock.VENDOR = "/nonexistent"
        clock.install()
        clock.set_offset(86400)
        uuid.uuid1()
        clock.set_offset(0)
        print(json.dumps(uuid._last_timestamp))
        """
    )
    assert got is None


def test_probe_names_the_fallback_where_there_is_no_extension(monkeypatch):
    monkeypatch.setattr(clock, "VENDOR", "/nonexistent")
    assert clock.probe() == "time-only"


def test_a_run_sends_the_virtual_start_a_serve_sends_none():
    work = EEWork(plan(), new_ee=lambda _ee_id: pytest.fail("no EE is made"), origin_ts=1e9)
    assert work.load_message(60.0)["clock_ts"] == 1e9 + 60.0
    work.virtual_clock = False
    assert "clock_ts" not in work.load_message(60.0)


def test_the_report_says_which_clock_the_steps_read():
    assert clock_setting("time-machine 3.6.0", False) == (
        "virtual (time-machine 3.6.0, in the step's process)"
    )
    assert clock_setting("time-machine 3.6.0", True) == "real"
    assert "datetime.now() reads the real clock" in clock_setting("time-only", False)
