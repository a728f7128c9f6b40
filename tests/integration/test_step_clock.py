"""The step's clock on the run's virtual clock (issue 29; docs/research/issue-29-clock.md),
against the real daemon and image: what a step reads as wall-clock time is its
execution's virtual instant (``context.ts``) plus the real time since the execution
began; monotonic clocks and sleeps stay real; forked children keep the clock, exec'd
ones do not."""

from __future__ import annotations

import os
from datetime import datetime

import pytest

import pdee
from pdee.provision.image import DEFAULT_TAG

pytestmark = pytest.mark.usefixtures("no_new_containers")

WEEK = 604800
IMAGE = os.environ.get("PDEE_IMAGE", DEFAULT_TAG)

READS = """
import os, subprocess, sys, time
from datetime import date, datetime, timezone
from time import time as early_bound_time

def handler(pd):
    t0, m0 = time.time(), time.monotonic()
    time.sleep(0.2)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a forked child: keeps the step's clock
        os.write(write, repr(time.time()).encode())
        os._exit(0)
    os.close(write)
    forked = float(os.read(read, 100))
    os.waitpid(pid, 0)
    execd = float(subprocess.run([sys.executable, "-c", "import time; print(time.time())"],
                                 capture_output=True, text=True, check=True).stdout)
    return {
        "ts": pd.steps["trigger"]["context"]["ts"],
        "time": t0,
        "early_bound": early_bound_time(),
        "time_ns": time.time_ns() / 1e9,
        "now_utc": datetime.now(timezone.utc).timestamp(),
        "now_naive": datetime.now().isoformat(),
        "utcnow": datetime.utcnow().isoformat(),
        "strftime": time.strftime("%Y-%m-%d"),
        "today": date.today().isoformat(),
        "slept_wall": time.time() - t0,
        "slept_monotonic": time.monotonic() - m0,
        "monotonic": m0,
        "forked": forked,
        "execd": execd,
    }
"""

STORES = """
from datetime import datetime

def handler(pd):
    ds = pd.inputs["data_store"]
    if "stored_at" not in ds:
        ds["stored_at"] = datetime.now().isoformat()
        return None
    return (datetime.now() - datetime.fromisoformat(ds["stored_at"])).total_seconds()
"""


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_weekly_executions_read_their_virtual_instant(write_step):
    result = pdee.run([write_step("reads", READS)], events=3, interval=WEEK, mode="warm",
                      network="none", image=IMAGE, seed=1)  # fmt: skip
    assert [e.status for e in result.executions] == ["ok", "ok", "ok"]
    assert result.settings.clock is not None
    assert result.settings.clock.startswith("virtual (time-machine 3.6.0")
    got = [e.steps["reads"].return_value for e in result.executions]
    for index, reads in enumerate(got):
        ts = _ts(reads["ts"])
        assert ts == pytest.approx(_ts(got[0]["ts"]) + index * WEEK, abs=1)
        for key in ("time", "early_bound", "time_ns", "now_utc", "forked"):
            assert abs(reads[key] - ts) < 60, (index, key, reads[key] - ts)
        # The EE's zone is UTC: the naive readings are the same instant.
        for key in ("now_naive", "utcnow"):
            assert abs(datetime.fromisoformat(reads[key]).timestamp() - ts) < 60, (index, key)
        day = datetime.fromtimestamp(reads["time"]).date().isoformat()
        assert reads["strftime"] == reads["today"] == day
        # Real: a sleep takes its real time on both clocks.
        assert 0.19 < reads["slept_wall"] < 5 and 0.19 < reads["slept_monotonic"] < 5
    # Monotonic stays real across executions a virtual week apart.
    assert got[2]["monotonic"] - got[0]["monotonic"] < 120
    # A process the step execs reads the real clock (documented: not reached).
    assert got[2]["execd"] < _ts(got[2]["ts"]) - WEEK + 120


def test_a_stored_datetime_is_a_virtual_week_old_a_week_later(write_step, tmp_path):
    result = pdee.run([write_step("stores", STORES)], events=2, interval=WEEK, mode="warm",
                      network="none", image=IMAGE, data_stores={"data_store": tmp_path / "store.db"})  # fmt: skip
    first, second = (e.steps["stores"].return_value for e in result.executions)
    assert first is None
    assert second == pytest.approx(WEEK, abs=60)


def test_cold_starts_and_the_import_are_on_the_virtual_clock(write_step):
    step = write_step("imported", """
        import time
        IMPORTED = time.time()

        def handler(pd):
            return [IMPORTED, pd.steps["trigger"]["context"]["ts"]]
    """)  # fmt: skip
    result = pdee.run([step], events=2, interval=WEEK, mode="cold", network="none", image=IMAGE)
    first, second = (e.steps["imported"].return_value for e in result.executions)
    assert abs(first[0] - _ts(first[1])) < 60
    # A limit (README): an EE pdee starts ahead of its cold start (standby) imports the
    # step at the virtual instant pdee started it, before the arrival, never after it.
    assert second[0] < _ts(second[1]) + 60
