"""Which packages a workflow needs, found as the platform finds them: no Docker, no network."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pdee.errors import UsageError
from pdee.packages import Requirement, canonical, imported_modules, requirements
from pdee.workflow import Step


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
