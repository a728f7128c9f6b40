"""The user's labels: ``PDEE_LABELS`` on every container pdee makes, and ``pdee gc
--label`` that looks only at the containers carrying them. No Docker: the parsing and the
filter directly, and the Docker backend on a stub client that records what it is asked."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pdee.backends import LABEL_RUN, EESpec
from pdee.backends.docker import DockerBackend
from pdee.backends.ownership import (
    ENV_LABELS,
    LABEL_PID,
    Owner,
    carries,
    labels_from_env,
    parse_labels,
    selector,
)
from pdee.errors import UsageError


def test_labels_are_key_value_pairs_split_by_commas():
    text = " ci.job=1234 , team=data eng,url=a=b,"
    assert parse_labels([text], ENV_LABELS) == {"ci.job": "1234", "team": "data eng", "url": "a=b"}
    # --label, repeated, may also hold several (`--label "$PDEE_LABELS"`)
    assert parse_labels(["a=1", "b=2,c=3"], "--label") == {"a": "1", "b": "2", "c": "3"}
    assert parse_labels(["a=1", "a=1"], "--label") == {"a": "1"}  # the same twice is one


def test_no_labels_unless_pdee_labels_gives_some():
    assert labels_from_env({}) == {}
    assert labels_from_env({ENV_LABELS: ""}) == {}
    assert labels_from_env({ENV_LABELS: "k8s.io/job=x"}) == {"k8s.io/job": "x"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ci.job", "PDEE_LABELS: 'ci.job' is not KEY=VALUE; write e.g. PDEE_LABELS=ci.job=1234"),
        ("ci.job=", "'ci.job=' is not KEY=VALUE"),
        ("=1234", "'=1234' is not KEY=VALUE"),
        ("a=1;b=2", None),  # a value may hold ';': one label
        ("a b=1", "PDEE_LABELS: 'a b' is not a label key: use letters, digits"),
        (".hidden=1", "'.hidden' is not a label key"),
        ("pdee.run=mine", "PDEE_LABELS: pdee sets the label pdee.run itself; choose another key"),
        (f"{LABEL_PID}=1", f"pdee sets the label {LABEL_PID} itself"),
        ("a=1,a=2", "PDEE_LABELS gives the label a twice ('1' and '2'); give each key once"),
    ],
)
def test_bad_labels_are_one_line_usage_errors(text, message):
    if message is None:
        assert parse_labels([text], ENV_LABELS) == {"a": "1;b=2"}
        return
    with pytest.raises(UsageError) as refused:
        labels_from_env({ENV_LABELS: text})
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_a_bad_label_option_names_the_option():
    with pytest.raises(UsageError, match=r"^--label: 'x' is not KEY=VALUE; write e.g. --label ci"):
        parse_labels(["x"], "--label")


@given(st.text(max_size=60))
def test_any_text_is_labels_or_a_usage_error(text):
    try:
        labels = parse_labels([text], ENV_LABELS)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    # what was accepted goes back through the parser unchanged
    again = ",".join(f"{key}={value}" for key, value in labels.items())
    assert parse_labels([again], ENV_LABELS) == labels


def test_the_filter_asks_for_pdee_containers_with_every_label():
    assert selector({}) == [LABEL_RUN]
    assert selector({"a": "1", "b": "x=y"}) == [LABEL_RUN, "a=1", "b=x=y"]
    assert carries({LABEL_RUN: "r", "a": "1", "b": "2"}, {"a": "1"})
    assert carries({LABEL_RUN: "r"}, {})
    assert not carries({LABEL_RUN: "r", "a": "2"}, {"a": "1"})
    assert not carries({LABEL_RUN: "r", "b": "1"}, {"a": "1", "b": "1"})


class StubAPI:
    """The two calls ``sweep`` makes of docker-py's low-level client."""

    def __init__(self, containers: list[dict[str, Any]]) -> None:
        self.listed = containers
        self.filters: list[Any] = []
        self.removed: list[str] = []

    def containers(self, all: bool, filters: dict[str, Any]) -> list[dict[str, Any]]:
        self.filters.append(filters)
        return self.listed  # as a daemon that ignored the filter would: the sweep checks too

    def remove_container(self, container_id: str, force: bool, v: bool) -> None:
        self.removed.append(container_id)


class StubClient:
    def __init__(self, containers: list[dict[str, Any]]) -> None:
        self.api = StubAPI(containers)


def _container(name: str, owner: Owner, **labels: str) -> dict[str, Any]:
    return {"Id": name, "Labels": {LABEL_RUN: name, **owner.labels(0), **labels}}


GONE = Owner("no-such-host", 1, "1")  # made a day ago from elsewhere: abandoned


def test_sweep_removes_only_containers_with_the_labels_it_was_given():
    client = StubClient(
        [
            _container("mine", GONE, session="s1"),
            _container("mine-too", GONE, session="s1", team="data"),
            _container("another-sessions", GONE, session="s2"),
            _container("unlabelled", GONE),
        ]
    )
    backend = DockerBackend(client)  # type: ignore[arg-type]
    for everything in (False, True):
        client.api.removed.clear()
        backend.sweep(everything, {"session": "s1"})
        assert client.api.removed == ["mine", "mine-too"]
    assert client.api.filters[-1] == {"label": [LABEL_RUN, "session=s1"]}
    client.api.removed.clear()
    assert backend.sweep(True).removed == 4  # no label: every pdee container, as before


def test_every_container_pdee_makes_carries_the_users_labels():
    backend = DockerBackend(StubClient([]), {"ci.job": "7"})  # type: ignore[arg-type]
    ee = backend.ee(EESpec(image="pdee-ee:latest", tmp_size_bytes=1, memory_bytes=1), "r1", "ee-1")
    assert ee.labels["ci.job"] == "7" and ee.labels[LABEL_RUN] == "r1"
    assert ee.labels.keys() >= Owner.this_process().labels(0).keys()


def test_a_bad_pdee_labels_is_refused_before_any_daemon_is_asked(monkeypatch):
    monkeypatch.setenv(ENV_LABELS, "oops")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(UsageError, match="PDEE_LABELS: 'oops' is not KEY=VALUE"):
        DockerBackend.connect()


def test_gc_refuses_bad_labels_with_one_line(pdee, monkeypatch):
    outcome = pdee("gc", "--all", "--label", "pdee.test.session")
    assert outcome.exit_code == 2
    assert outcome.stderr.strip().splitlines() == [
        "Error: --label: 'pdee.test.session' is not KEY=VALUE; write e.g. --label ci.job=1234"
    ]
    monkeypatch.setenv(ENV_LABELS, "team")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    outcome = pdee("gc")
    assert outcome.exit_code == 2
    assert outcome.stderr.startswith("Error: PDEE_LABELS: 'team' is not KEY=VALUE")
    assert len(outcome.stderr.strip().splitlines()) == 1
