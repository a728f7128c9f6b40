"""The HTTP trigger's translations, request to event and outcome to response: no socket.

Every response ``custom_answer`` makes, whatever ``pd.respond`` recorded, is one h11 (the
HTTP of uvicorn) sends: the tests send it through an h11 connection.
"""

from __future__ import annotations

import json
from typing import Any

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pdee
from pdee.lifecycle.scheduler import Start
from pdee.results.records import Execution, Pause, Status, StepError
from pdee.runtime.protocol import MAX_DEPTH
from pdee.serving.http_trigger import (
    INVALID_RESPONSE,
    NO_RESPOND,
    NO_RESPOND_AFTER_DELAY,
    Answer,
    BadResponse,
    HttpEvent,
    Refused,
    answered,
    build_event,
    custom_answer,
    default_answer,
    http_event,
    parse_body,
    respond_answer,
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


ARRIVED = [("Content-Type", "application/json"), ("X-Sig", "ab"), ("x-sig", "cd")]
RAW = '{"sku":  "a1"}'


def _event(kind: HttpEvent, body: Any = None, raw: str | None = RAW) -> dict[str, Any]:
    body = {"sku": "a1"} if body is None else body
    return build_event("post", "/h", "", ARRIVED, body, "127.0.0.1", "localhost", raw, kind)


def test_the_full_event_carries_the_unparsed_body_as_every_platform_http_event_does():
    event = _event(HttpEvent.FULL)
    assert event["body"] == {"sku": "a1"} and event["bodyRaw"] == RAW
    assert event["headers"] == {"content-type": "application/json", "x-sig": ["ab", "cd"]}
    assert "rawHeaders" not in event
    assert "bodyRaw" not in _event(HttpEvent.FULL, raw=None)  # an upload: not inline


def test_the_raw_event_adds_the_headers_as_a_flat_list_in_arrival_order():
    event = _event(HttpEvent.RAW)
    assert event == {**_event(HttpEvent.FULL), "rawHeaders": [
        "Content-Type", "application/json", "X-Sig", "ab", "x-sig", "cd"]}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "event"),
    [
        ({"sku": "a1"}, {"sku": "a1"}),  # http-new-requests' emitBodyOnly: the body
        ({}, {}),
        ([1, 2], {"body": [1, 2]}),  # http-new-requests-payload-only's { body }
        ("hello", {"body": "hello"}),
        ("", {"body": ""}),
    ],
)
def test_the_body_event_is_the_body_and_always_an_object(body, event):
    assert _event(HttpEvent.BODY, body) == event


def test_an_unknown_http_event_is_a_usage_error_naming_the_choices():
    assert http_event("RAW".lower()) is HttpEvent.RAW
    with pytest.raises(pdee.UsageError, match="--http-event parsed: give one of full, body, raw"):
        http_event("parsed")


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


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{nope", "Expecting property name"),
        (nested(100_000), f"deeper than the {MAX_DEPTH} levels"),  # RecursionError in json
        (nested(MAX_DEPTH + 1), f"deeper than the {MAX_DEPTH} levels"),
        (b'{"a": NaN}', "NaN, which JSON does not have"),
        (b"[Infinity]", "Infinity, which JSON does not have"),
        (b"-Infinity", "Infinity, which JSON does not have"),
        (b"1" * 5000, "digits"),  # past Python's integer conversion limit
    ],
)
def test_a_json_body_pdee_cannot_take_is_a_one_line_400(body, why):
    with pytest.raises(Refused) as refused:
        parse_body("application/json", body)
    assert refused.value.status == 400
    assert why in str(refused.value) and "\n" not in str(refused.value)


def test_a_json_body_as_deep_as_pdee_carries_is_taken():
    value = parse_body("application/json", nested(MAX_DEPTH))
    for _ in range(MAX_DEPTH - 1):
        (value,) = value
    assert value == []


def test_the_upload_path_is_asked_by_query_or_header():
    assert wants_upload("pipedream_upload_body=1", {})
    assert wants_upload("", {"x-pd-upload-body": "1"})
    assert not wants_upload("pipedream_upload_body=0", {})


def sent(answer: Answer, method: str = "GET") -> bytes:
    """``answer`` sent by h11 as uvicorn sends it (Starlette adds the length); the bytes.

    Raises:
        h11.LocalProtocolError: h11 would refuse to send it (uvicorn: a traceback and a
            closed connection).
    """
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(f"{method} / HTTP/1.1\r\nhost: x\r\n\r\n".encode())
    assert isinstance(connection.next_event(), h11.Request)
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers]
    if answer.status not in (204, 304):
        headers.append((b"content-length", str(len(answer.body)).encode()))
    wire = connection.send(h11.Response(status_code=answer.status, headers=headers)) or b""
    if answer.body and method != "HEAD":  # uvicorn sends no body to a HEAD
        wire += connection.send(h11.Data(data=answer.body)) or b""
    return wire + (connection.send(h11.EndOfMessage()) or b"")


def test_responses():
    assert default_answer().status == 200 and b"Success!" in default_answer().body
    assert custom_answer(None).body == NO_RESPOND.encode()
    assert custom_answer(None, paused=True).body == NO_RESPOND_AFTER_DELAY.encode()
    json_answer = custom_answer({"status": 201, "body": {"ok": True}, "headers": {"X-A": "b"}})
    assert json_answer.status == 201 and json.loads(json_answer.body) == {"ok": True}
    assert json_answer.headers == [("x-a", "b"), ("content-type", "application/json")]
    assert json_answer.problem is None and json_answer.notes == ()
    text = custom_answer({"status": 200, "body": "plain"})
    assert text.body == b"plain" and text.header("content-type") is None
    for answer in (default_answer(), custom_answer(None), json_answer, text):
        sent(answer)


@pytest.mark.parametrize(
    ("respond", "why"),
    [
        ({"status": 200, "body": "", "headers": ["x-a", "b"]}, "headers are a list"),
        ({"status": 200, "body": "", "headers": "x-a: b"}, "headers are a string"),
        ({"status": 200, "body": "", "headers": 5}, "headers are a number"),
        ({"status": "nope", "body": ""}, "status is a string ('nope')"),
        ({"status": True, "body": ""}, "status is a boolean"),
        ({"status": None, "body": ""}, "status is null"),
        ({"status": 200.5, "body": ""}, "status is a number"),
        ({"status": 99, "body": ""}, "status 99 is not a final HTTP status"),
        ({"status": 101, "body": ""}, "status 101 is not a final HTTP status"),
        ({"status": 600, "body": ""}, "status 600"),
        ({"status": -1, "body": ""}, "status -1"),
        ({"body": ""}, "gave no status"),
        ({"status": 200, "body": "", "headers": {"x-a": "b\r\nset-cookie: evil=1"}}, "'\\r'"),
        ({"status": 200, "body": "", "headers": {"x-a": "b\nc"}}, "control character ('\\n'"),
        ({"status": 200, "body": "", "headers": {"x-a": "nul\x00"}}, "control character"),
        ({"status": 200, "body": "", "headers": {"x-a": "snow \u2603"}}, "past Latin-1"),
        ({"status": 200, "body": "", "headers": {"x a": "b"}}, "'x a' is not an HTTP header"),
        ({"status": 200, "body": "", "headers": {"x:a": "b"}}, "'x:a' is not an HTTP header"),
        ({"status": 200, "body": "", "headers": {"": "b"}}, "'' is not an HTTP header"),
        ({"status": 200, "body": "", "headers": {"caf\u00e9": "b"}}, "not an HTTP header"),
        ({"status": 200, "body": "", "headers": {"x-a": None}}, "'x-a' is null"),
        ({"status": 200, "body": "", "headers": {"x-a": {"b": 1}}}, "'x-a' is an object"),
        ({"status": 200, "body": "", "headers": {"x-a": ["b", ["c"]]}}, "'x-a' is a list"),
        ({"status": 200, "body": "lone \ud800"}, "body is not text UTF-8 can carry"),
        ({"status": 200, "body": {"x": float("nan")}}, "body cannot be sent as JSON"),
        ("just text", "response is a string"),
    ],
)
def test_a_response_that_cannot_be_sent_is_a_one_line_500_saying_why(respond, why):
    with pytest.raises(BadResponse, match=None) as bad:
        respond_answer(respond)
    assert why in str(bad.value), str(bad.value)
    answer = custom_answer(respond)
    assert answer.status == 500 and answer.problem == str(bad.value)
    assert answer.body.decode().endswith(answer.problem) and b"\n" not in answer.body
    sent(answer)


def test_a_body_nested_past_the_encoder_is_a_500():
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    answer = custom_answer({"status": 200, "body": deep})
    assert (
        answer.status == 500 and answer.problem is not None and "nests too deep" in answer.problem
    )


def test_what_the_server_owns_is_normalised_with_a_note():
    wrong = custom_answer(
        {"status": 200, "body": "twelve bytes", "headers": {"Content-Length": "5"}}
    )
    assert wrong.header("content-length") is None and wrong.body == b"twelve bytes"
    assert wrong.notes == (
        "pd.respond's content-length '5' was dropped: the body is 12 bytes, and the server says so",
    )
    right = custom_answer({"status": 200, "body": "abc", "headers": {"content-length": 3}})
    assert right.header("content-length") is None and right.notes == ()  # the server's own
    hop = custom_answer(
        {"status": 200, "body": "x", "headers": {"Transfer-Encoding": "chunked",
         "Connection": "close", "Upgrade": "h2c", "keep-alive": "timeout=5"}}
    )  # fmt: skip
    assert hop.headers == [] and len(hop.notes) == 4
    assert "transfer-encoding header was dropped" in hop.notes[0]
    for status in (204, 304):
        empty = custom_answer({"status": status, "body": {"a": 1}})
        assert empty.body == b"" and empty.header("content-type") is None
        assert empty.notes == (f"pd.respond's body was dropped: a {status} response has none",)
        sent(empty)
    for answer in (wrong, right, hop):
        sent(answer)


def test_header_values_as_the_platform_takes_them():
    answer = custom_answer(
        {"status": "201", "body": None, "headers": {
            "Set-Cookie": ["a=1", "b=2"], "X-N": 7, "X-F": 1.5, "X-W": 2.0, "X-B": True,
            "X-Pad": "  spaced  ", "X-Latin": "caf\u00e9", "Content-Type": "text/x-mine",
        }}
    )  # fmt: skip
    assert answer.status == 201 and answer.body == b"null"
    assert answer.headers == [
        ("set-cookie", "a=1"), ("set-cookie", "b=2"), ("x-n", "7"), ("x-f", "1.5"),
        ("x-w", "2"), ("x-b", "true"), ("x-pad", "spaced"), ("x-latin", "caf\u00e9"),
        ("content-type", "text/x-mine"),
    ]  # fmt: skip
    assert custom_answer({"status": 404.0, "body": "x"}).status == 404
    assert sent(answer).count(b"set-cookie") == 2


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
STATUS = st.integers(-10, 1000) | st.floats() | st.text(max_size=5) | JSON
HEADERS = JSON | st.dictionaries(st.text(max_size=12), JSON | st.text(), max_size=6)


@settings(max_examples=300, deadline=None)
@given(respond=st.fixed_dictionaries({"status": STATUS, "body": JSON, "headers": HEADERS}))
def test_any_response_is_sent_or_refused_in_one_line(respond):
    answer = custom_answer(respond)
    assert 200 <= answer.status <= 599
    if answer.problem is not None:
        assert answer.status == 500 and "\n" not in answer.problem
    sent(answer)  # h11 sends it: no closed connection, no traceback
    sent(answer, method="HEAD")


def execution(status: Status = Status.OK, **fields: Any) -> Execution:
    return Execution(
        index=3, ee="ee-1", start=Start.WARM, status=status, arrived_at_s=0.0, at_s=0.0,
        duration_ms=1.0, **fields,
    )  # fmt: skip


def test_an_execution_whose_response_cannot_be_sent_fails_saying_why():
    respond = {"status": 200, "body": "", "headers": ["x"]}
    failed = answered(execution(respond=respond), custom_answer(respond))
    assert failed.status is Status.ERROR and failed.error is not None
    assert failed.error.type == INVALID_RESPONSE
    assert (
        failed.error.message
        == "pd.respond's headers are a list; give an object of header names to values"
    )
    # One that failed already keeps its own error; the response's problem is a note.
    raised = StepError("ValueError", "boom", step="s")
    kept = answered(execution(Status.ERROR, error=raised, respond=respond), custom_answer(respond))
    assert kept.error == raised and kept.notes[-1].startswith("the caller got a 500: pd.respond")
    pause = Pause("delay", "s", 1000.0, "r", "c")
    paused = answered(execution(respond=respond, pause=pause), custom_answer(respond, True))
    assert paused.status is Status.OK and paused.notes[-1].startswith("the caller got a 500")
    # A response sent with changes: noted; one sent as it is: the record unchanged.
    dropped = {"status": 200, "body": "x", "headers": {"content-length": "9"}}
    noted = answered(execution(respond=dropped), custom_answer(dropped))
    assert noted.status is Status.OK and noted.notes == list(custom_answer(dropped).notes)
    fine = execution(respond={"status": 200, "body": "x"})
    assert answered(fine, custom_answer(fine.respond)) is fine
