"""The EE image's recipe, build context, wheel cache and choice of base: no Docker."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from pdee.errors import ImageError
from pdee.provision import image


def test_the_recipe_ships_inside_the_package():
    files = image.recipe_files()
    assert "ENTRYPOINT" in files["Dockerfile"].decode()
    assert b"requests==" in files["wheels/requirements.txt"]
    assert {"pdee_runtime/__main__.py", "pdee_runtime/supervisor.py"} <= set(files)


def test_the_fingerprint_follows_every_file_of_the_recipe(monkeypatch):
    original = image.recipe_files()
    first = image.recipe_fingerprint()
    assert first == image.recipe_fingerprint() and len(first) == 16
    for name in ("Dockerfile", "pdee_runtime/worker.py"):
        changed = {**original, name: original[name] + b"\n# changed\n"}
        monkeypatch.setattr(image, "recipe_files", lambda changed=changed: changed)
        assert image.recipe_fingerprint() != first


def test_the_build_context_holds_the_recipe_and_the_wheels(tmp_path):
    (tmp_path / "requests-2.0-py3-none-any.whl").write_bytes(b"wheel")
    (tmp_path / "notes.txt").write_text("not a wheel")
    with tarfile.open(fileobj=image.context_tar(tmp_path)) as tar:
        names = set(tar.getnames())
        member = tar.extractfile("wheels/requests-2.0-py3-none-any.whl")
        assert member is not None and member.read() == b"wheel"
    assert {"Dockerfile", "wheels/requirements.txt", "pdee_runtime/pd.py"} <= names
    assert "wheels/notes.txt" not in names


def test_a_failed_download_says_what_to_check(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    class Done:
        returncode = 1
        stderr = "ERROR: Could not find a version that satisfies the requirement requests\n"

    monkeypatch.setattr(image.subprocess, "run", lambda *a, **k: Done())
    with pytest.raises(ImageError, match="check the host's network and proxy") as error:
        image.download_wheels(b"requests==99\n", "3.11.2")
    assert "Could not find a version" in str(error.value)
    assert list((tmp_path / "pdee" / "wheels").iterdir()) == []


def test_a_complete_download_is_reused_per_python_version(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def fake_pip(command, **_kwargs):
        dest = Path(command[command.index("--dest") + 1])
        (dest / f"pkg-py{command[command.index('--python-version') + 1]}.whl").write_bytes(b"")

        class Done:
            returncode = 0
            stderr = ""

        return Done()

    calls = []
    monkeypatch.setattr(image.subprocess, "run", lambda c, **k: calls.append(c) or fake_pip(c))
    first = image.download_wheels(b"pkg==1\n", "3.11.2")
    again = image.download_wheels(b"pkg==1\n", "3.11.9")
    other = image.download_wheels(b"pkg==1\n", "3.12.1")
    assert first == again != other and len(calls) == 2
    assert (first / "requirements.txt").read_bytes() == b"pkg==1\n"
    assert [p.name for p in first.glob("*.whl")] == ["pkg-py3.11.whl"]


class Images:
    """Just enough of a backend to choose a base."""

    def __init__(self, *present: str) -> None:
        self.present = set(present)
        self.imported: list[str] = []

    def has_image(self, tag: str) -> bool:
        return tag in self.present


def test_the_base_is_the_given_one_else_the_platforms_python_else_bootstrapped(monkeypatch):
    assert image.choose_base(Images("my/python:3.12"), "my/python:3.12") == "my/python:3.12"
    with pytest.raises(ImageError, match=r"base image my/python:3\.12 is not here"):
        image.choose_base(Images(), "my/python:3.12")
    assert image.choose_base(Images("python:3.12-slim")) == "python:3.12-slim"
    booted = []
    monkeypatch.setattr(image, "bootstrap_base", lambda _b, tag, _p: booted.append(tag))
    suite = image.debian_suite()
    assert image.choose_base(Images(f"pdee-base:{suite}")) == f"pdee-base:{suite}"
    assert booted == []
    assert image.choose_base(Images()) == f"pdee-base:{suite}" and booted == [f"pdee-base:{suite}"]


def test_apt_sources_can_be_given(monkeypatch):
    monkeypatch.setenv("PDEE_APT_SOURCES", "/a.list /b.sources")
    assert image.apt_source_files() == ["/a.list", "/b.sources"]
