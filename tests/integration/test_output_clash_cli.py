"""Outputs never overwrite inputs, against the real daemon: ``pdee run s.py --report
s.py`` is refused before any EE starts, with exit 2, the step file as it was, and no
container made."""

from __future__ import annotations

import subprocess
import sys

STEP = "def handler(pd):\n    return 'kept'\n"


def test_a_report_on_the_step_file_is_refused_before_any_ee(tmp_path, containers):
    step = tmp_path / "s.py"
    step.write_text(STEP)
    before = {c["Id"] for c in containers()}
    ended = subprocess.run(
        [sys.executable, "-m", "pdee", "run", "s.py", "--report", "s.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ended.returncode == 2, ended.stderr
    assert ended.stderr == (
        "Error: --report s.py is the step file s.py: pdee would overwrite its input; give "
        "another path\n"
    )
    assert step.read_text() == STEP
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.py"]
    assert {c["Id"] for c in containers()} == before  # no EE was started
