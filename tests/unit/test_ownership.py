"""Which EEs `pdee gc` may remove: pure rules over labels, with a fake process table."""

from __future__ import annotations

import os

from pdee.backends import ownership
from pdee.backends.ownership import Owner, abandoned

NOW = 1_800_000_000.0
ME = Owner(host="runner-1", pid=4242, process_start="777")


def start_of(table: dict[int, str]):
    return lambda pid: table.get(pid)


def test_an_ee_of_a_live_owner_on_this_host_is_kept():
    labels = ME.labels(NOW - 60)
    assert not abandoned(labels, NOW, "runner-1", start_of({4242: "777"}))


def test_an_ee_whose_owner_is_gone_or_whose_pid_was_reused_is_abandoned():
    labels = ME.labels(NOW - 60)
    assert abandoned(labels, NOW, "runner-1", start_of({}))  # no such process
    assert abandoned(labels, NOW, "runner-1", start_of({4242: "999"}))  # another process


def test_an_unknown_start_time_trusts_the_pid():
    labels = ME.labels(NOW - 60)
    assert not abandoned(labels, NOW, "runner-1", start_of({4242: ""}))


def test_an_ee_made_from_another_host_is_kept_for_a_day():
    assert not abandoned(ME.labels(NOW - 3600), NOW, "runner-2", start_of({}))
    assert abandoned(ME.labels(NOW - 25 * 3600), NOW, "runner-2", start_of({}))


def test_an_ee_without_owner_labels_is_abandoned():
    assert abandoned({"pdee.run": "abc"}, NOW, "runner-1", start_of({4242: "777"}))
    assert abandoned({**ME.labels(NOW), ownership.LABEL_PID: "x"}, NOW, "runner-1")


def test_this_process_is_alive_and_its_start_time_is_read_from_proc():
    me = Owner.this_process()
    assert me.pid == os.getpid() and me.process_start == ownership.process_start(os.getpid())
    assert not abandoned(me.labels(NOW), NOW, me.host)
    assert ownership.process_start(2**22 + 12345) is None  # above pid_max: no such process
