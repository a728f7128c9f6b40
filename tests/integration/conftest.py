"""Integration tests: a real Docker daemon and the real EE image (`make image`, i.e. `pdee image build`).

Every test here is marked `docker`. The daemon may be shared (a developer's `pdee serve`,
other CI jobs), so the tests see only the containers of this session: pdee labels each
with the session's label (`session_label`, through `PDEE_LABELS`), and the tests list,
inspect and remove only containers carrying it (`containers`), and run `pdee gc` only
with `--label` of the session. At the end of the session, no container of the session
labelled `pdee.run` may be left: a leak fails the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest

from pdee.backends import LABEL_RUN
from pdee.plan.options import RunOptions

Containers = Callable[..., list[dict[str, Any]]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session", autouse=True)
def api_image_from_environment() -> Iterator[None]:
    """The tests that call the API (``pdee.run``, ``pdee.serve``, ``pdee.check``) without
    ``image=`` run on ``PDEE_IMAGE`` when it is set, as the CLI and the ``pdee`` fixture
    do: the API itself reads no environment, its default stays ``pdee-ee:latest``."""
    tag = os.environ.get("PDEE_IMAGE")
    defaults = RunOptions.__init__.__kwdefaults__
    before = defaults["image"]
    if tag:
        defaults["image"] = tag
    yield
    defaults["image"] = before


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture(scope="session")
def session_labels(session_label: str) -> dict[str, str]:
    """The session's label as a dict, for the containers a test makes itself."""
    key, _, value = session_label.partition("=")
    return {key: value}


@pytest.fixture(scope="session")
def containers(docker_client: docker.DockerClient, session_label: str) -> Containers:
    """This session's pdee containers, running or not: ``containers()``, or only those
    that also carry some labels: ``containers(f"pdee.run={run_id}")``."""

    def listed(*labels: str) -> list[dict[str, Any]]:
        # The low-level list: the high-level one fails on a container removed meanwhile.
        wanted = [LABEL_RUN, session_label, *labels]
        return docker_client.api.containers(all=True, filters={"label": wanted})

    return listed


def names(found: list[dict[str, Any]]) -> list[str]:
    return [c["Names"][0] for c in found]


@pytest.fixture(scope="session", autouse=True)
def no_leftover_containers(containers: Containers) -> Iterator[None]:
    yield
    left = names(containers())
    assert left == [], f"pdee left containers behind: {left}"


@pytest.fixture
def no_new_containers(containers: Containers) -> Iterator[None]:
    """Fails the test if it leaves a container of the session behind."""
    yield
    left = names(containers())
    assert left == [], f"the test left containers behind: {left}"
