"""The HTTP trigger's translations, request to event and outcome to response: no socket."""

from __future__ import annotations

import json

import pytest

from pdee.serving.http_trigger import (
    NO_RESPOND,
    NO_RESPOND_AFTER_DELAY,
    Refused,
    build_event,
    custom_answer,
    default_answer,
    parse_body,
    wants_upload,
)


def test_an_event_has_the_platforms_fields():
    event = build_event(
        "post", "/orders", "id=7&tag=a&tag=b", [("Content-Type", "application/json"),
        ("X-Custom", "1")], {"sku": "a1"}, "127.0.0.1", "localhost:8000",
    )  # fmt: skip
    assert event == {
        "method": "POST",
        "path": "/orders",
        "query": {"id": "7", "tag": ["a", "b"]},
        "client_ip": "127.0.0.1",
        "url": "http://localhost:8000/orders?id=7&tag=a&tag=b",
        "headers": {"content-type": "application/json", "x-custom": "1"},
        "body": {"sku": "a1"},
    }


@pytest.mark.parametrize(
    ("content_type", "body", "parsed"),
    [
        ("application/json", b'{"a": [1, 2]}', {"a": [1, 2]}),
        ("application/json; charset=utf-8", b"[1]", [1]),
        ("application/vnd.api+json", b'{"x": 1}', {"x": 1}),
        ("application/x-www-form-urlencoded", b"a=1&b=two&a=3", {"a": ["1", "3"], "b": "two"}),
        ("text/plain", b"hello", "hello"),
        ("", b"\xff\xfebinary", "\ufffd\ufffdbinary"),
        ("application/json", b"", ""),
    ],
)
def test_bodies_by_content_type(content_type, body, parsed):
    assert parse_body(content_type, body) == parsed


def test_a_json_body_that_is_not_json_is_a_400():
    with pytest.raises(Refused) as refused:
        parse_body("application/json", b"{nope")
    assert refused.value.status == 400


def test_the_upload_path_is_asked_by_query_or_header():
    assert wants_upload("pipedream_upload_body=1", {})
    assert wants_upload("", {"x-pd-upload-body": "1"})
    assert not wants_upload("pipedream_upload_body=0", {})


def test_responses():
    assert default_answer().status == 200 and b"Success!" in default_answer().body
    assert custom_answer(None).body == NO_RESPOND.encode()
    assert custom_answer(None, paused=True).body == NO_RESPOND_AFTER_DELAY.encode()
    json_answer = custom_answer({"status": 201, "body": {"ok": True}, "headers": {"X-A": "b"}})
    assert json_answer.status == 201 and json.loads(json_answer.body) == {"ok": True}
    assert json_answer.headers == {"x-a": "b", "content-type": "application/json"}
    text = custom_answer({"status": 200, "body": "plain"})
    assert text.body == b"plain" and "content-type" not in text.headers
    assert custom_answer({"status": "nope", "body": ""}).status == 500
