"""Integration tests: a real Docker daemon and the real EE image (`make image`, i.e. `pdee image build`).

Every test here is marked `docker`. At the end of the session, no container labelled
`pdee.run` may be left: a leak fails the run.
"""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from pdee.backends import LABEL_RUN


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    return docker.from_env()


def labelled(client: docker.DockerClient) -> list[str]:
    # The low-level list: the high-level one fails on a container removed meanwhile.
    return [c["Names"][0] for c in client.api.containers(all=True, filters={"label": LABEL_RUN})]


@pytest.fixture(scope="session", autouse=True)
def no_leftover_containers(docker_client: docker.DockerClient) -> Iterator[None]:
    assert labelled(docker_client) == [], "labelled containers existed before the tests"
    yield
    left = labelled(docker_client)
    assert left == [], f"pdee left containers behind: {left}"


@pytest.fixture
def no_new_containers(docker_client: docker.DockerClient) -> Iterator[None]:
    """Fails the test if it leaves a labelled container behind."""
    yield
    assert labelled(docker_client) == []
