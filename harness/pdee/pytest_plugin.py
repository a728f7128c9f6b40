"""The ``pdee`` pytest fixture, installed with pdee (the ``pytest11`` entry point).

::

    def test_upload_step(pdee):
        result = pdee.run(["upload.py"], events=20, mode="warm")
        assert all(e.status == "ok" for e in result.executions)
        assert pdee.check(["upload.py"]).safe

    def test_synced_project(pdee):
        assert pdee.run(["my-workflow-p_AbC123/"]).executions[0].passed
        assert pdee.check_project(".").safe  # every workflow of a GitHub-synced project

``pdee.run``, ``pdee.check`` and ``pdee.check_project`` are the Python API's, with the
same signatures. The
fixture checks once per session that the EE image (``PDEE_IMAGE``, else
``pdee-ee:latest``) is there and was built by this pdee, and errors every test that
uses it with the reason otherwise; after each test it fails the test if a container of
one of its runs is still there (and removes it).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from typing import Any

import pytest

from . import api
from .checking import project, scenarios, verdicts
from .errors import PdeeError, RunAborted
from .plan.sizes import plural
from .provision.image import DEFAULT_TAG
from .results.records import RunResult


class PdeeFixture:
    """What the ``pdee`` fixture gives a test: ``run`` and ``check``, recording run ids."""

    def __init__(self, image: str) -> None:
        self.image = image
        self.run_ids: list[str] = []
        # Plain functions that carry the API's names, docs and signatures.
        self.run = functools.wraps(api.run)(lambda *a, **k: self._run(*a, **k))
        self.check = functools.wraps(scenarios.check)(lambda *a, **k: self._check(*a, **k))
        self.check_project = functools.wraps(project.check_project)(
            lambda *a, **k: self._check_project(*a, **k)
        )

    def __repr__(self) -> str:
        return f"<pdee fixture: image {self.image}, {len(self.run_ids)} runs>"

    def _keep(self, result: RunResult) -> RunResult:
        self.run_ids.append(result.run_id)
        return result

    def _run(self, steps: Any, **options: Any) -> RunResult:
        options.setdefault("image", self.image)
        try:
            return self._keep(api.run(steps, **options))
        except RunAborted as aborted:
            self._keep(aborted.result)
            raise

    def _check(self, steps: Any, **options: Any) -> verdicts.CheckResult:
        options.setdefault("image", self.image)
        result = scenarios.check(steps, **options)
        for run in result.runs.values():
            self._keep(run)
        return result

    def _check_project(self, root: Any, **options: Any) -> project.ProjectCheck:
        options.setdefault("image", self.image)
        result = project.check_project(root, **options)
        for checked in result.workflows:
            for run in checked.result.runs.values() if checked.result else ():
                self._keep(run)
        return result


@pytest.fixture(scope="session")
def pdee_image() -> str:
    """The EE image the ``pdee`` fixture runs on, checked once per session."""
    from .backends.docker import DockerBackend
    from .provision.image import check_image

    tag = os.environ.get("PDEE_IMAGE", DEFAULT_TAG)
    try:
        with DockerBackend.connect() as backend:
            check_image(backend, tag)
    except PdeeError as exc:
        pytest.fail(f"the pdee fixture needs its EE image: {exc}", pytrace=False)
    return tag


@pytest.fixture
def pdee(pdee_image: str) -> Iterator[PdeeFixture]:
    """``pdee.run`` and ``pdee.check`` for this test; fails it if a container is left."""
    from .backends.docker import DockerBackend

    fixture = PdeeFixture(pdee_image)
    yield fixture
    if not fixture.run_ids:
        return
    with DockerBackend.connect() as backend:
        left = {run_id: backend.remove_run(run_id) for run_id in fixture.run_ids}
    leaked = {run_id: n for run_id, n in left.items() if n}
    if leaked:
        pytest.fail(
            f"pdee left {plural(sum(leaked.values()), 'container')} of "
            f"{'run' if len(leaked) == 1 else 'runs'} {', '.join(leaked)} behind (now removed)",
            pytrace=False,
        )
