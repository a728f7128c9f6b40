"""Which packages a workflow needs, found as the platform finds them: no Docker, no network."""

from __future__ import annotations

import subprocess
import textwrap
import zipfile
from pathlib import Path

import pytest

from pdee.errors import PackageError, UsageError
from pdee.plan.requirements import imported_modules, requirements, requirements_by_workflow
from pdee.plan.steps import Step
from pdee.provision.packages import Requirement, canonical, fetch, wheel_platforms


def step(name: str, code: str) -> Step:
    return Step(name=name, path=Path(f"{name}.py"), code=textwrap.dedent(code))


def test_imports_map_to_pypi_names_with_pipreqs_table_and_stdlib_is_left_out():
    code = """
        import os, json, tomllib
        import yaml
        from bs4 import BeautifulSoup
        from PIL import Image
        import sklearn.linear_model
        import requests as r

        def handler(pd):
            import boto3  # imports inside functions count too
    """
    found = requirements([step("s", code)])
    assert [r.spec for r in found] == [
        "beautifulsoup4",
        "boto3",
        "Pillow",
        "PyYAML",
        "Requests",  # pipreqs' table spells it so; pip compares names case-blind
        "scikit_learn",
    ]
    assert all(r.steps == ("s",) and r.version is None for r in found)


def test_a_step_does_not_need_itself_and_a_syntax_error_needs_nothing():
    assert imported_modules(step("helpers", "import helpers\nimport yaml\n")) == {"yaml"}
    assert imported_modules(step("broken", "import yaml\ndef handler(pd)\n")) == set()


def test_add_package_comments_pin_and_add():
    code = """
        # pipedream add-package PyYAML==6.0.2
        #pipedream add-package   python-dateutil
        import yaml
        import dateutil.parser
        # pipedream add-package requests[socks]==2.32.3
    """
    found = {r.name: r for r in requirements([step("s", code)])}
    assert found["PyYAML"] == Requirement("PyYAML", "6.0.2", ("s",))
    assert found["python-dateutil"].spec == "python-dateutil"
    assert found["requests"].spec == "requests==2.32.3"
    assert set(found) == {"PyYAML", "python-dateutil", "requests"}


def test_one_set_of_packages_for_the_workflow():
    first = step("download", "# pipedream add-package requests==2.32.3\nimport requests\n")
    second = step("upload", "import requests\nimport requests_toolbelt\n")
    found = requirements([first, second])
    assert [(r.spec, r.steps) for r in found] == [
        ("requests==2.32.3", ("download", "upload")),
        ("requests_toolbelt", ("upload",)),
    ]


def test_a_project_s_workflow_whose_steps_pdee_does_not_run_needs_no_package(tmp_path):
    # As pdee check skips such a workflow, pdee packages PROJECT lists it with no package
    # instead of refusing the whole project.
    for name, step in (("a-p_A", "  disabled: true\n"), ("b-p_B", "")):
        folder = tmp_path / name
        (folder / "s").mkdir(parents=True)
        (folder / "s" / "entry.py").write_text("import yaml\ndef handler(pd):\n    return 1\n")
        runtime = "python3.12" if step else "nodejs18.x"
        uses = "./s/entry.py" if step else "email-send-email-to-self@0.4.5"
        (folder / "workflow.yaml").write_text(
            f"schema: workflow/2022.04\nname: {name}\ntriggers:\n- http: {{}}\nsteps:\n"
            f"- namespace: s\n  runtime: {runtime}\n  uses: {uses}\n{step}"
        )
    wanted = requirements_by_workflow([tmp_path])
    assert [(Path(label).name, needs) for label, needs in wanted] == [("a-p_A", []), ("b-p_B", [])]


def test_two_steps_pinning_different_versions_are_refused_naming_both():
    first = step("a", "# pipedream add-package PyYAML==6.0.1\n")
    second = step("b", "import yaml\n# pipedream add-package pyyaml==6.0.2\n")
    with pytest.raises(UsageError, match=r"steps 'a' \(line 1\) and 'b' \(line 2\) pin PyYAML"):
        requirements([first, second])


@pytest.mark.parametrize(
    "comment",
    ["# pipedream add-package", "# pipedream add-package yaml>=6", "# pipedream add-package a b"],
)
def test_a_malformed_add_package_comment_says_how_to_write_it(comment):
    with pytest.raises(UsageError, match=r"s\.py, line 2: .* write `# pipedream add-package NAME`"):
        requirements([step("s", f"import os\n{comment}\n")])


def test_canonical_names_compare_as_pypi_does():
    assert canonical("PyYAML") == canonical("pyyaml") == "pyyaml"
    assert canonical("scikit_learn") == canonical("Scikit.Learn") == "scikit-learn"


def test_wheels_for_the_ee_cover_every_manylinux_glibc_up_to_its_own():
    tags = wheel_platforms("x86_64")
    assert tags[0] == "manylinux_2_36_x86_64" and "manylinux_2_17_x86_64" in tags
    assert tags[-3:] == ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]


def failing_pip(stderr: str):
    class Done:
        returncode = 1

    Done.stderr = stderr
    return lambda *_args, **_kwargs: Done()


@pytest.mark.parametrize(
    ("stderr", "error", "message"),
    [
        (
            "ERROR: No matching distribution found for pdee-nope\n",
            UsageError,
            r"no wheel of pdee-nope \(needed by s\) .* add `# pipedream add-package NAME`",
        ),
        (
            "ERROR: No matching distribution found for six==0.0.1\n",
            UsageError,
            r"no wheel of six==0\.0\.1 \(needed by s\) .* pin a version that exists",
        ),
        (
            "WARNING: Retrying ... NewConnectionError\nERROR: Could not fetch URL\n",
            PackageError,
            r"pip could not fetch the packages \(ERROR: Could not fetch URL\); check the host's network",
        ),
    ],
)
def test_what_a_failed_fetch_means(tmp_path, monkeypatch, stderr, error, message):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(subprocess, "run", failing_pip(stderr))
    wanted = [Requirement("pdee-nope", None, ("s",)), Requirement("six", "0.0.1", ("s",))]
    with pytest.raises(error, match=message):
        fetch(wanted, "3.11.2", machine="x86_64")
    assert [p.name for p in (tmp_path / "pdee" / "packages").iterdir()] == []  # nothing half-done


def test_a_cached_set_needs_no_pip_and_offline_needs_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    wanted = [Requirement("six", None, ("s",))]
    with pytest.raises(PackageError, match="--offline: six not in pdee's cache"):
        fetch(wanted, "3.11.2", offline=True, machine="x86_64")

    def fake_pip(command, **_kwargs):
        dest = Path(command[command.index("--dest") + 1])
        with zipfile.ZipFile(dest / "six-1.17.0-py2.py3-none-any.whl", "w") as wheel:
            wheel.writestr("six.py", "x" * 1000)

        class Done:
            returncode = 0
            stderr = ""

        return Done()

    monkeypatch.setattr(subprocess, "run", fake_pip)
    first = fetch(wanted, "3.11.2", machine="x86_64")
    assert [(w.name, w.version, w.bytes) for w in first.wheels] == [("six", "1.17.0", 1000)]
    monkeypatch.setattr(subprocess, "run", failing_pip("no network"))
    again = fetch(wanted, "3.11.7", offline=True, machine="x86_64")  # same minor version
    assert again.wheels == first.wheels and again.key == first.key
    assert fetch([], "3.11.2", offline=True).wheels == []


def test_a_wheel_built_here_must_run_in_the_ee(tmp_path, monkeypatch):
    from pdee.provision import packages as module

    def fake_pip_wheel(name):
        def run(command, **_kwargs):
            (tmp_path / name).write_bytes(b"")
            return module.subprocess.CompletedProcess(command, 0, "", "")

        return run

    host = f"cp{module.sys.version_info.major}{module.sys.version_info.minor}"
    python = f"{module.sys.version_info.major}.{module.sys.version_info.minor}.0"
    monkeypatch.setattr(module.subprocess, "run", fake_pip_wheel("pure-1.0-py3-none-any.whl"))
    assert module.build_wheel("pure", tmp_path, python, "x86_64") is None
    native = f"native-1.0-{host}-{host}-linux_x86_64.whl"
    monkeypatch.setattr(module.subprocess, "run", fake_pip_wheel(native))
    assert module.build_wheel("native", tmp_path, python, "x86_64") is None
    other = f"other-1.0-{host}-{host}-linux_x86_64.whl"
    monkeypatch.setattr(module.subprocess, "run", fake_pip_wheel(other))
    reason = module.build_wheel("other", tmp_path, "2.7.18", "x86_64")
    assert reason is not None and "cannot build it for the EE's (cp27)" in reason
    assert not (tmp_path / other).exists()
