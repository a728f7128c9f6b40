"""docs/report.md's sample names every key of a real report (a run on the fake backend):
a key added to the report cannot be left out of its page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fake_backend import FakeBackend

import pdee
from pdee.results import report

PAGE = Path(__file__).parents[2] / "docs" / "report.md"
# A top-level key of the sample: the line's only indent is the object's brace or a space.
TOP = re.compile(r'^[{ ]"([a-z_]+)":', re.MULTILINE)


def sample_sections() -> dict[str, str]:
    """The sample's text under each top-level key."""
    sample = PAGE.read_text().split("```")[1]
    found = list(TOP.finditer(sample))
    ends = [match.start() for match in found[1:]] + [len(sample)]
    return {
        match.group(1): sample[match.start() : end] for match, end in zip(found, ends, strict=True)
    }


def missing(keys: Any, text: str, where: str) -> list[str]:
    return [f"{where}.{key}" for key in keys if f'"{key}":' not in text]


def built(tmp_path: Path) -> dict[str, Any]:
    step = tmp_path / "step.py"
    step.write_text("def handler(pd):\n    return 1\n")
    result = pdee.run([step], backend=FakeBackend(), events=2, seed=1, throttle="2/60")
    return json.loads(json.dumps(report.build(result)))


def test_the_sample_names_every_key_of_a_real_report(tmp_path):
    real, sections = built(tmp_path), sample_sections()
    assert list(sections) == list(real), "the sample's top-level keys, in the report's order"
    settings, summary = sections["settings"], sections["summary"]
    wrong = [
        *missing(real["settings"], settings, "settings"),
        *missing(real["settings"]["controls"], settings, "settings.controls"),
        *missing(real["settings"]["auto_retry"], settings, "settings.auto_retry"),
        *missing(real["executions"][0], sections["executions"], "executions[]"),
        *missing(real["ees"][0], sections["ees"], "ees[]"),
        *missing(real["summary"], summary, "summary"),
        *missing(real["summary"]["by_status"], summary, "summary.by_status"),
    ]
    assert not wrong, f"docs/report.md's sample lacks {wrong}"


def test_a_key_only_elsewhere_in_the_sample_is_missed():
    sections = sample_sections()
    assert missing(["executions", "ok"], sections["settings"], "settings") == ["settings.ok"]
