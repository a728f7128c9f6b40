"""Output files are claimed before a run: what cannot be written is refused at once, and
what pdee created for nothing is removed. No Docker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pdee.errors import UsageError
from pdee.outputs.files import OutputFile


def test_a_new_file_is_created_empty_and_removed_if_never_written(tmp_path):
    path = tmp_path / "report.json"
    output = OutputFile.claim(path, "report", "report.json")
    assert path.exists() and output.created
    output.abandon()
    assert not path.exists()


def test_a_written_file_stays(tmp_path):
    path = tmp_path / "report.json"
    output = OutputFile.claim(path, "report", "report.json")
    path.write_text("{}")
    output.abandon()
    assert path.read_text() == "{}"


def test_an_existing_file_is_left_as_it_was(tmp_path):
    path = tmp_path / "old.json"
    path.write_text("")
    OutputFile.claim(path, "report", "report.json").abandon()
    assert path.exists()


@pytest.mark.parametrize(
    ("path", "match"),
    [
        ("/dev/full", "not a regular file"),
        ("/proc/pdee-report.json", "cannot write report"),
        ("/sys/pdee-report.json", "cannot write report"),
        ("/nonexistent-dir/r.json", "directory /nonexistent-dir does not exist"),
    ],
)
def test_what_cannot_be_written_is_refused_in_one_line(path, match):
    with pytest.raises(UsageError, match=match) as refused:
        OutputFile.claim(Path(path), "report", "report.json")
    assert "\n" not in str(refused.value)


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(UsageError, match=r"is a directory; give a file name like junit\.xml"):
        OutputFile.claim(tmp_path, "JUnit file", "junit.xml")


def test_dev_null_and_pdees_own_stdout_are_taken(tmp_path):
    assert not OutputFile.claim(Path(os.devnull), "report", "r.json").created
