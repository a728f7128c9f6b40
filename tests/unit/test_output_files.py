"""Output files are claimed before a run: what cannot be written is refused at once, and
what pdee created for nothing is removed; then they are written whole or not at all. No
Docker."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from pdee.errors import PdeeError, UsageError
from pdee.outputs import files, report
from pdee.outputs.files import TEMPORARY_SUFFIX, OutputFile, write_whole


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


def test_an_output_in_a_folder_pdee_cannot_add_to_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "report.json"
    path.write_text("old")

    def read_only_folder(*_args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files, "_beside", read_only_folder)  # as root, chmod would not do
    with pytest.raises(UsageError) as refused:
        OutputFile.claim(path, "report", "report.json")
    assert str(refused.value) == (
        f"cannot write report {path}: its folder {tmp_path} does not let pdee add the file "
        f"that replaces it (Permission denied); give a path in a writable folder"
    )
    assert path.read_text() == "old"


# --- written whole or not at all -------------------------------------------------------


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(TEMPORARY_SUFFIX))


def failing(*pieces: str, error: BaseException | None = None):
    """Text in pieces, then ``error`` (a value that cannot be made) instead of the rest."""
    yield from pieces
    raise error or ValueError("Out of range float values are not JSON compliant: inf")


def test_a_file_is_replaced_whole_keeping_its_mode(tmp_path):
    path = tmp_path / "report.json"
    path.write_text("old and longer than the new one")
    path.chmod(0o640)
    inode = path.stat().st_ino
    write_whole(path, "report", ["{", "}\n"])
    assert path.read_text() == "{}\n" and leftovers(tmp_path) == []
    assert path.stat().st_ino != inode  # a new file, renamed over the old
    assert path.stat().st_mode & 0o777 == 0o640


def test_a_failed_write_keeps_the_previous_content_and_says_so(tmp_path):
    path = tmp_path / "report.json"
    path.write_text('{"old": true}\n')
    with pytest.raises(PdeeError) as failed:
        write_whole(path, "report", failing('{"new": '))
    assert str(failed.value) == (
        f"cannot write report {path}: a value in it cannot be written (Out of range float "
        f"values are not JSON compliant: inf); its previous content is kept"
    )
    assert path.read_text() == '{"old": true}\n' and leftovers(tmp_path) == []


def test_a_failed_write_to_a_claimed_file_leaves_nothing(tmp_path):
    path = tmp_path / "report.json"
    output = OutputFile.claim(path, "report", "report.json")
    with pytest.raises(PdeeError, match=r"nothing was written$"):
        write_whole(path, "report", failing("{", error=RecursionError()))
    output.abandon()
    assert list(tmp_path.iterdir()) == []  # no 0-byte report, no temporary file


def test_a_report_json_cannot_carry_is_one_line_and_the_old_report_stays(tmp_path):
    path = tmp_path / "check.json"
    path.write_text("previous")
    with pytest.raises(
        PdeeError, match=r"compliant: inf\); its previous content is kept$"
    ) as failed:
        report.write(path, {"ttl": float("inf")}, "JSON file")
    assert failed.value.exit_code == 1 and "\n" not in str(failed.value)
    assert path.read_text() == "previous" and leftovers(tmp_path) == []


def test_a_text_utf8_cannot_carry_is_one_line_and_the_old_file_stays(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("previous")
    with pytest.raises(PdeeError, match=r"holds '\\ud800', which UTF-8 cannot carry; its prev"):
        write_whole(path, "report", ["fine ", "lone \ud800"])
    assert path.read_text() == "previous" and leftovers(tmp_path) == []


def test_a_symlink_stays_a_link_and_its_target_is_replaced(tmp_path):
    target = tmp_path / "reports" / "latest.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "report.json"
    link.symlink_to(target)
    write_whole(link, "report", ["new"])
    assert link.is_symlink() and target.read_text() == "new"
    assert leftovers(tmp_path) == leftovers(target.parent) == []


def test_a_write_that_cannot_rename_says_so_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "r.xml"
    path.write_text("<old/>")

    def no_rename(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(UsageError, match="No space left on device; its previous content is kept"):
        write_whole(path, "JUnit file", ["<new/>"])
    assert path.read_text() == "<old/>" and leftovers(tmp_path) == []


def test_a_file_that_cannot_be_renamed_over_gets_the_whole_text_copied(tmp_path, monkeypatch):
    path = tmp_path / "report.json"  # as if mounted on its own: docker run -v $PWD/report.json:...
    path.write_text("an old report, longer than the new one")
    inode = path.stat().st_ino

    def busy(*_args):
        raise OSError(errno.EBUSY, "Device or resource busy")

    monkeypatch.setattr(os, "replace", busy)
    write_whole(path, "report", ["{", "}\n"])
    assert path.read_text() == "{}\n" and path.stat().st_ino == inode
    assert leftovers(tmp_path) == []


def test_streams_get_the_whole_text_or_nothing(capfd):
    write_whole(Path(os.devnull), "report", ["{}"])
    write_whole(Path("/dev/stdout"), "report", ['{"a": ', "1}\n"])
    with pytest.raises(PdeeError, match="nothing was written"):
        write_whole(Path("/dev/stdout"), "report", failing('{"partial": '))
    assert capfd.readouterr().out == '{"a": 1}\n'


def test_junit_escapes_what_xml_cannot_hold():
    from pdee.outputs import junit

    xml = junit.JUnitXml()
    suite = junit.TestSuite("s")
    case = junit.TestCase("c")
    case.system_out = junit._xml("colour \x1b[31mred\x1b[0m, nul \x00, lone \ud800, ok é ✓")
    suite.add_testcase(case)
    xml.add_testsuite(suite)
    text = "".join(junit._rendered(xml))
    assert "colour \\x1b[31mred\\x1b[0m, nul \\x00, lone \\ud800, ok é ✓" in text
