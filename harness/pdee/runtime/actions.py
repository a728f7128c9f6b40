"""The platform's built-in actions that decide a workflow's outcome or touch ``/tmp``,
run in the EE as steps (standard library only).

A synced workflow names a registry action by ``uses: <key>@<version>``; pdee runs the
few below as the component's code does, from its source in ``PipedreamHQ/pipedream``
(``components/<app>/...``, cited on each function). Each is a function
``(pd, props, version) -> return value``: ``props`` are the step's evaluated props
(``pd.inputs``: data store props are ``Store`` objects). JavaScript's meanings are kept
where the result depends on them: truthiness, ``parseFloat``, strict equality, a text
method called on what is not text (a ``TypeError``, the step's error). ``$.flow.exit``
without ``return`` ends the workflow after the step, as in the components.

Every other registry action is a stand-in (its result from ``--step-result``).
"""

from __future__ import annotations

import base64
import json
import math
import re

TYPE_CHECKING = False  # typing is not imported at run time: a step's process starts faster
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .pd import Pipedream

    Action = Callable[[Pipedream, dict[str, Any], str], Any]


class ConfigurationError(Exception):
    """The platform's ``ConfigurationError`` (``@pipedream/platform``): a prop's value
    the action cannot use."""


# -- JavaScript's meanings ----------------------------------------------------------


def truthy(value: Any) -> bool:
    """JavaScript's truthiness: ``false``, ``0``, ``NaN``, ``""``, null and undefined
    are false; every object and array, even empty, is true (``"false"`` too)."""
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)):
        return not (value == 0 or (isinstance(value, float) and math.isnan(value)))
    if isinstance(value, str):
        return value != ""
    return True


def js_string(value: Any) -> str:
    """JavaScript's ``String(value)`` for JSON data."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value).replace("e-0", "e-")
    if isinstance(value, list):
        return ",".join("" if item is None else js_string(item) for item in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


_FLOAT_PREFIX = re.compile(r"[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_JS_SPACE = " \t\n\r\v\f\u00a0\ufeff\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    chr(c) for c in range(0x2000, 0x200B)
)


def parse_float(value: Any) -> float:
    """JavaScript's ``parseFloat``: the number at the start of ``String(value)``
    (``"12px"`` is 12, ``" 3"`` is 3), or NaN (``"abc"``, ``""``, null, ``true``)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _FLOAT_PREFIX.match(js_string(value).lstrip(_JS_SPACE))
    if match is None:
        return math.nan
    text = match.group(0)
    return float(text.replace("Infinity", "inf"))


def strictly_equal(a: Any, b: Any) -> bool:
    """JavaScript's ``includes`` (SameValueZero): numbers by value (NaN equals NaN),
    text by text, ``true`` and ``false`` and null as themselves; objects and arrays only
    as the same object."""
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return a is b
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or (a != a and b != b)  # NaN
    return type(a) is type(b) and bool(a == b)


def _js_type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


# -- the filter app (components/filter/filter.app.mjs @ 8293ccf0) -------------------


def _lower(value: Any, name: str) -> str:
    """``input.toLowerCase()``: a TypeError, as in JavaScript, when it is not text."""
    if value is None:
        raise TypeError(f"Cannot read properties of undefined (reading 'toLowerCase') ({name})")
    if not isinstance(value, str):
        raise TypeError(f"{name}.toLowerCase is not a function (it is {_js_type(value)})")
    return value.lower()


def _text_method(value: Any, method: str, name: str) -> str:
    if value is None:
        raise TypeError(f"Cannot read properties of undefined (reading '{method}') ({name})")
    if not isinstance(value, str):
        raise TypeError(f"{name}.{method} is not a function (it is {_js_type(value)})")
    return value


def _text(condition: str, a: Any, b: Any, case_sensitive: Any) -> bool:
    if not truthy(case_sensitive):
        a, b = _lower(a, "initialValue"), _lower(b, "secondValue")
    if condition == "TEXT_EQUALS":
        return strictly_equal(a, b)
    if condition == "CONTAINS":
        if isinstance(a, list):  # Array.prototype.includes
            return any(strictly_equal(item, b) for item in a)
        return js_string(b) in _text_method(a, "includes", "initialValue")
    text = _text_method(
        a, "startsWith" if condition == "STARTS_WITH" else "endsWith", "initialValue"
    )
    if condition == "STARTS_WITH":
        return text.startswith(js_string(b))
    return text.endswith(js_string(b))


def to_number(value: Any) -> float:
    """``convertToNumber``: ``parseFloat``, and an error for NaN."""
    number = parse_float(value)
    if math.isnan(number):
        raise ValueError("Input cannot be converted to a number")
    return number


def is_null(value: Any) -> bool:
    """``checkIfIsNull``: null, undefined, or the text ``"null"`` or ``"undefined"``."""
    return value is None or value == "null" or value == "undefined"


def _parse(value: Any, kind: str) -> Any:
    """``parse(input, type)``: an array or object as it is, or text parsed as JSON."""
    if kind == "array" and isinstance(value, list):
        return value
    if kind == "object" and isinstance(value, dict):
        return value
    try:
        if not isinstance(value, str):
            raise ValueError(f'"{js_string(value)}" is not valid JSON')
        parsed = json.loads(value)
        if kind == "array" and not isinstance(parsed, list):
            raise ValueError("Unable to parse second value to array")
        if kind == "object" and isinstance(parsed, list):
            raise ValueError("Unable to parse second value to object")
        if kind == "object" and not isinstance(parsed, dict) and parsed is not None:
            raise ValueError("Unable to parse second value to object")
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    if parsed is None:  # typeof null is "object"; `in` then throws
        raise TypeError("Cannot use 'in' operator to search in null")
    return parsed


_NEGATED = {
    "NOT_CONTAINS": "CONTAINS",
    "TEXT_NOT_EQUALS": "TEXT_EQUALS",
    "NOT_STARTS_WITH": "STARTS_WITH",
    "NOT_ENDS_WITH": "ENDS_WITH",
    "FALSE": "TRUE",
    "NOT_NULL": "IS_NULL",
    "NOT_IN_ARRAY": "IN_ARRAY",
    "KEY_NOT_EXISTS": "KEY_EXISTS",
}
_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "GREATER_THAN": lambda a, b: a > b,
    "GREATER_THAN_EQUALS": lambda a, b: a >= b,
    "LESS_THAN": lambda a, b: a < b,
    "LESS_THAN_EQUALS": lambda a, b: a <= b,
    "EQUALS": lambda a, b: a == b,
}


def check_condition(condition: Any, a: Any, b: Any = None, case_sensitive: Any = None) -> bool:
    """The filter app's ``checkCondition(condition, initialValue, secondValue,
    caseSensitive)``: whether the condition holds (the ``NOT_*`` forms negate).

    Raises:
        TypeError: a text condition on what is not text (JavaScript's TypeError).
        ValueError: a number condition on what ``parseFloat`` cannot read.
        ConfigurationError: an array or object condition whose second value is neither.
        Exception: an unknown condition ("Condition operation not supported").
    """
    if condition in _NEGATED:
        return not check_condition(_NEGATED[condition], a, b, case_sensitive)
    if condition in ("CONTAINS", "TEXT_EQUALS", "STARTS_WITH", "ENDS_WITH"):
        return _text(condition, a, b, case_sensitive)
    if condition in _NUMERIC:
        return _NUMERIC[condition](to_number(a), to_number(b))
    if condition == "TRUE":
        return truthy(a)
    if condition == "IS_NULL":
        return is_null(a)
    if condition == "IN_ARRAY":
        return any(strictly_equal(item, a) for item in _parse(b, "array"))
    if condition == "KEY_EXISTS":
        found = _parse(b, "object")
        key = js_string(a)
        return key in found and not is_null(found[key])
    raise Exception("Condition operation not supported")


def _condition(props: dict[str, Any]) -> bool:
    return check_condition(
        props.get("condition"),
        props.get("initialValue"),
        props.get("secondValue"),
        props.get("caseSensitive"),
    )


def filter_continue(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``filter-continue-based-on-condition`` (``components/filter/actions/
    continue-based-on-condition/continue-based-on-condition.mjs`` 0.0.2): ends the
    workflow, after the step, unless the condition holds."""
    if not _condition(props):
        pd.flow.exit(props.get("messageOnEnd"))
    return props.get("messageOnContinue")


def filter_end(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``filter-end-based-on-condition`` (``components/filter/actions/
    end-based-on-condition/end-based-on-condition.mjs`` 0.0.1): ends the workflow,
    after the step, when the condition holds."""
    if _condition(props):
        pd.flow.exit(props.get("messageOnEnd"))
    return props.get("messageOnContinue")


def filter_end_execution(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``filter-end-workflow-execution`` (``components/filter/actions/
    end-workflow-execution/end-workflow-execution.mjs`` 0.0.2): ``continueOrEnd``
    (CONTINUE or END) says what the condition holding does; the other when it fails."""
    on_continue = props.get("messageOnContinue", "Continuing workflow...")
    on_end = props.get("messageOnEnd", "Ending workflow...")
    holds = _condition(props)
    if holds == (props.get("continueOrEnd") == "CONTINUE"):
        pd.export("$summary", on_continue)
    else:
        pd.flow.exit(on_end)


def filter_custom_condition(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``filter-end-workflow-custom-condition`` (``components/filter/actions/
    end-workflow-custom-condition`` 0.0.2, no longer published): ends the workflow when
    ``condition`` (default true) is truthy."""
    condition = props.get("condition", True)
    if truthy(condition):
        reason = props.get("reason")
        pd.export("$summary", f"Workflow ended. Reason: {js_string(reason)}")
        pd.flow.exit(reason)
    else:
        pd.export("$summary", "Workflow continued. Condition evaluated to false")


# -- http, email, delay ---------------------------------------------------------------


def return_http_response(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``http-return-http-response`` (``components/http/actions/return-http-response/
    return-http-response.mjs`` 0.0.5): ``$.respond`` with ``resStatusCode`` (200),
    ``resHeaders`` and ``resBody`` (``'{ "success": true }'``); returns nothing."""
    status = props.get("resStatusCode", 200)
    response: dict[str, Any] = {
        "status": status,
        "body": props.get("resBody", '{ "success": true }'),
    }
    if props.get("resHeaders") is not None:
        response["headers"] = props["resHeaders"]
    pd.respond(response)
    pd.export("$summary", f"Responded successfully with status {js_string(status)}")


def send_email_to_self(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``email-send-email-to-self`` (``components/email/actions/send-email-to-self/
    send-email-to-self.mjs`` 0.4.5): ``$.send.email`` (recorded by pdee, never sent)."""
    if props.get("html") is not None:
        pd.send.email(props.get("subject", ""), props.get("text", ""), props["html"])
    else:
        pd.send.email(props.get("subject", ""), props.get("text", ""))
    pd.export("$summary", "Successfully sent email")


_DELAY_UNITS = {"Milliseconds": 1, "Seconds": 1000, "Minutes": 60_000, "Hours": 3_600_000}


def workflow_delay(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``delay-workflow-delay`` (``components/delay/actions/workflow-delay/
    workflow-delay.mjs`` 0.0.2; and the older ``delay-delay-workflow`` 0.0.1, which
    returns nothing): ``$.flow.delay`` for ``delayDurationValue`` ``delayDurationUnit``;
    returns its ``resume_url`` and ``cancel_url``."""
    unit = props.get("delayDurationUnit")
    if unit not in _DELAY_UNITS:
        raise Exception("something here")  # the component's own message
    value = props.get("delayDurationValue")
    urls = pd.flow.delay(to_number(value) * _DELAY_UNITS[unit])
    pd.export(
        "$summary", f"Successfully configured this workflow to delay for {js_string(value)} {unit}."
    )
    return urls


def workflow_delay_legacy(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``delay-delay-workflow`` (``components/delay/actions/delay-workflow`` 0.0.1):
    as ``delay-workflow-delay``, returning nothing."""
    workflow_delay(pd, props, version)


# -- helper_functions-download-file-to-tmp --------------------------------------------

# What the component sends unless told otherwise (0.3.6: a Chrome User-Agent).
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


def _version(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (0,)


def download_file_to_tmp(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``helper_functions-download-file-to-tmp`` (``components/helper_functions/actions/
    download-file-to-tmp/download-file-to-tmp.mjs``): fetch ``url`` into
    ``/tmp/<filename>`` (not sanitised; an existing file is overwritten). 0.3.x returns
    ``[filename, path]``; 0.2.x returns and exports ``filedata``: ``[filename, path,
    base64, byteLength]`` (its Buffer and stream are not data a step can pass on)."""
    import urllib.error
    import urllib.request

    legacy = "download_file_uri" in props  # 0.2.1's props
    url = props.get("download_file_uri" if legacy else "url")
    filename = props.get("target_download_filename" if legacy else "filename")
    if not isinstance(url, str) or not url:
        raise ConfigurationError("url: give the URL of the file to download")
    if not isinstance(filename, str) or not filename:
        raise ConfigurationError("filename: give the name of the file to write in /tmp")
    scheme = url.partition(":")[0].lower()
    if scheme not in ("http", "https"):  # axios in Node.js fetches nothing else
        raise Exception(f"Unsupported protocol {scheme}:")
    headers = {"User-Agent": USER_AGENT}
    if isinstance(props.get("headers"), dict):
        headers.update({str(k): js_string(v) for k, v in props["headers"].items()})
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=None) as response:
            data = response.read()
    except urllib.error.HTTPError as exc:  # axios: a status outside 2xx fails the request
        raise Exception(f"Request failed with status code {exc.code}") from None
    path = f"/tmp/{filename}"
    with open(path, "wb") as out:
        out.write(data)
    if _version(version) >= (0, 3):
        return [filename, path]
    filedata = [filename, path, base64.b64encode(data).decode(), len(data)]
    pd.export("filedata", filedata)
    return None if legacy else filedata


# -- the data store actions (components/data_stores/) ---------------------------------


_WORDS: dict[str, Any] = {
    "true": True,
    "false": False,
    "null": None,
    "NaN": math.nan,
    "Infinity": math.inf,
}


class _Literal:
    """A reader of a JavaScript literal: what ``Function('return (' + value + ')')()``
    gives for text that is a literal (objects with bare or quoted keys, arrays, text in
    either quote, numbers, true, false, null, undefined, NaN, Infinity)."""

    UNDEFINED = object()
    NUMBER = re.compile(
        r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
    )
    NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")

    def __init__(self, text: str) -> None:
        self.text, self.at = text, 0

    def fail(self) -> ValueError:
        return ValueError(f"not a JavaScript literal at {self.at}")

    def space(self) -> None:
        while self.at < len(self.text) and self.text[self.at] in _JS_SPACE:
            self.at += 1

    def peek(self) -> str:
        self.space()
        return self.text[self.at : self.at + 1]

    def whole(self) -> Any:
        value = self.value(0)
        if self.peek():
            raise self.fail()
        return value

    def value(self, depth: int) -> Any:
        if depth > 100:
            raise self.fail()
        char = self.peek()
        if char == "{":
            return self.object(depth)
        if char == "[":
            return self.array(depth)
        if char in ("'", '"'):
            return self.string()
        if char in ("+", "-"):
            self.at += 1
            number = self.value(depth + 1)
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                raise self.fail()
            return -number if char == "-" else number
        match = self.NUMBER.match(self.text, self.at)
        if match:
            self.at = match.end()
            found = match.group(0)
            if found[:2].lower() in ("0x", "0o", "0b"):
                return int(found, 0)
            number = float(found)
            return int(number) if number.is_integer() and abs(number) < 2**53 else number
        match = self.NAME.match(self.text, self.at)
        if match and (match.group(0) in _WORDS or match.group(0) == "undefined"):
            self.at = match.end()
            return _WORDS.get(match.group(0), self.UNDEFINED)
        raise self.fail()

    def string(self) -> str:
        quote = self.text[self.at]
        end = self.at + 1
        out = []
        while end < len(self.text) and self.text[end] != quote:
            if self.text[end] == "\n":
                raise self.fail()
            if self.text[end] == "\\":
                escape = self.text[end + 1 : end + 2]
                if escape == "u":
                    out.append(chr(int(self.text[end + 2 : end + 6], 16)))
                    end += 6
                    continue
                out.append(
                    {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}.get(escape, escape)
                )
                end += 2
                continue
            out.append(self.text[end])
            end += 1
        if end >= len(self.text):
            raise self.fail()
        self.at = end + 1
        return "".join(out)

    def array(self, depth: int) -> list[Any]:
        self.at += 1
        items: list[Any] = []
        while self.peek() != "]":
            items.append(self.value(depth + 1))
            if self.peek() == ",":
                self.at += 1
            elif self.peek() != "]":
                raise self.fail()
        self.at += 1
        return items

    def object(self, depth: int) -> dict[str, Any]:
        self.at += 1
        found: dict[str, Any] = {}
        while self.peek() != "}":
            char = self.peek()
            if char in ("'", '"'):
                key = self.string()
            else:
                match = self.NAME.match(self.text, self.at) or self.NUMBER.match(self.text, self.at)
                if match is None:
                    raise self.fail()
                key, self.at = match.group(0), match.end()
            if self.peek() != ":":
                raise self.fail()
            self.at += 1
            found[key] = self.value(depth + 1)
            if self.peek() == ",":
                self.at += 1
            elif self.peek() != "}":
                raise self.fail()
        self.at += 1
        return found


def _as_json(value: Any) -> Any:
    """``JSON.parse(JSON.stringify(value))``: undefined keys dropped, undefined in an
    array and NaN or Infinity null."""
    if value is _Literal.UNDEFINED:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items() if v is not _Literal.UNDEFINED}
    return value


def parse_value(value: Any) -> Any:
    """The data store app's ``parseValue``: text that is a JavaScript literal becomes
    its value (``'{"a": 1}'``, ``"{a: 1}"``, ``"[1, 2]"``, ``"123"``, ``"true"``,
    ``"null"``), passed through JSON (NaN becomes null); any other text stays as it is
    (``"hello"``, ``"undefined"``, and, unlike the platform, expressions such as
    ``"1 + 2"``, which pdee does not evaluate). A value that is not text is kept."""
    if not isinstance(value, str):
        return value
    try:
        found = _Literal(value).whole()
    except (ValueError, IndexError):
        return value
    if found is _Literal.UNDEFINED:
        return value  # JSON.stringify(undefined) is undefined: JSON.parse throws
    return _as_json(found)


def _should_add(props: dict[str, Any]) -> bool:
    return props.get("addRecordIfNotFound") == "Yes"


def _store(props: dict[str, Any], name: str = "dataStore") -> Any:
    store = props.get(name)
    if store is None:
        store = props.get("data_store")  # the older actions' prop name
    if store is None or not hasattr(store, "set_ttl"):
        raise ConfigurationError(f"{name}: the step has no data store prop {name!r}")
    return store


def _ttl(props: dict[str, Any]) -> Any:
    ttl = props.get("ttl")
    return ttl if truthy(ttl) else None


def get_record_or_create(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``data_stores-get-record-or-create`` (``components/data_stores/actions/
    get-record-or-create/get-record-or-create.mjs`` 0.0.14): the record, or with
    ``addRecordIfNotFound: Yes`` the value set (``parseValue``, with ``ttl``)."""
    store, key = _store(props), props.get("key")
    record = store.get(key)
    pd.export("key", key)
    if record is not None:
        pd.export("$summary", f"Found data for the key, `{js_string(key)}`.")
        return record
    if not _should_add(props):
        pd.export("$summary", f"No data found for key, `{js_string(key)}`.")
        return None
    parsed = parse_value(props.get("value"))
    ttl = _ttl(props)
    store.set(key, parsed, ttl=ttl)
    pd.export("$summary", f"Successfully added a new record with the key, `{js_string(key)}`.")
    return {"value": parsed, "ttl": ttl} if ttl else parsed


def get_record(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``data_stores-get-record`` (``components/data_stores/actions/get-record/
    get-record.mjs`` 0.0.5): the record (a falsy one counts as missing), or with
    ``addRecordIfNotFound: Yes`` the value set."""
    store, key = _store(props), props.get("key")
    record = store.get(key)
    if truthy(record):
        pd.export("$summary", f"Found data for the key, `{js_string(key)}`.")
        return record
    if _should_add(props):
        store.set(key, parse_value(props.get("value")))
        pd.export("$summary", f"Successfully added a new record with the key, `{js_string(key)}`.")
        return store.get(key)
    pd.export("$summary", f"No data found for key, `{js_string(key)}`.")
    return record


def add_update_record(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``data_stores-add-update-record`` (``components/data_stores/actions/
    add-update-record/add-update-record.mjs`` 0.0.11): sets ``key`` to
    ``parseValue(value)`` (with ``ttl``); returns ``{key, value, ttl}``."""
    store, key = _store(props), props.get("key")
    exists = key in store
    parsed, ttl = parse_value(props.get("value")), _ttl(props)
    store.set(key, parsed, ttl=ttl)
    verb = "updated the record for" if exists else "added a new record with the"
    pd.export("$summary", f"Successfully {verb} key, `{js_string(key)}`.")
    return {"key": key, "value": parsed, "ttl": ttl}


_JS_NUMBER = re.compile(
    r"[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+"
)


def _convert(value: Any) -> Any:
    """``add-update-multiple-records``' ``convertString``: ``"true"`` and ``"false"``
    (any case) as booleans, text ``Number()`` reads as ``parseFloat`` of it (so ``""``
    is NaN, stored as null), then ``parseValue``."""
    if isinstance(value, str):
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        text = value.strip(_JS_SPACE)
        if not text or _JS_NUMBER.fullmatch(text):  # !isNaN(value)
            return _data(parse_float(value))
    return parse_value(value)


def _data(number: float) -> Any:
    """A JavaScript number as JSON data: whole numbers as ints, NaN and infinities null."""
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def add_update_multiple_records(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``data_stores-add-update-multiple-records`` (``components/data_stores/actions/
    add-update-multiple-records/add-update-multiple-records.mjs`` 0.0.8): every key of
    ``data`` (an object, or text that is one; arrays of objects flattened) set to its
    converted value (with ``ttl``); returns the records and ``_ttl``."""
    store, data, ttl = _store(props), props.get("data"), _ttl(props)
    if isinstance(data, str):
        data = parse_value(data)
    records: dict[str, Any] = {}

    def collect(item: Any) -> None:
        if isinstance(item, dict):
            for key, value in item.items():
                records[key] = _convert(value)
        elif isinstance(item, list):
            for each in item:
                collect(each)

    collect(data)
    for key, value in records.items():
        store.set(key, value, ttl=ttl)
    pd.export("$summary", f"Successfully added or updated {len(records)} record(s)")
    return {**records, "_ttl": ttl}


def append_to_record(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``data_stores-append-to-record`` (``components/data_stores/actions/
    append-to-record/append-to-record.mjs`` 0.0.4): appends ``parseValue(value)`` to the
    array at ``key`` (a missing key starts one); returns ``{key, value, ttl}``."""
    store, key = _store(props), props.get("key")
    exists = key in store
    current = store.get(key) if exists else []
    if not isinstance(current, list):
        raise ConfigurationError(
            "The value for the specified key is not an array. You can only append records "
            "to an array."
        )
    parsed, ttl = parse_value(props.get("value")), _ttl(props)
    store.set(key, [*current, parsed], ttl=ttl)
    verb = "appended to the record for" if exists else "appended to a new record with the"
    pd.export("$summary", f"Successfully {verb} key, `{js_string(key)}`.")
    return {"key": key, "value": parsed, "ttl": ttl}


def delete_single_record(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``data_stores-delete-single-record`` (``components/data_stores/actions/
    delete-single-record/delete-single-record.mjs`` 0.0.11): deletes ``key``; returns
    the record it held, if truthy."""
    store, key = _store(props), props.get("key")
    record = store.get(key)
    pd.export("key", key)
    if truthy(record):
        del store[key]
        pd.export("$summary", f"Successfully deleted the record for key, `{js_string(key)}`.")
        return record
    pd.export("$summary", f"No record found for key, `{js_string(key)}`. No data was deleted.")
    return None


def delete_all_records(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``data_stores-delete-all-records`` (``components/data_stores/actions/
    delete-all-records/delete-all-records.mjs`` 0.0.4): clears the store."""
    _store(props).clear()
    pd.export("$summary", "Successfully deleted all records")


def has_key_or_create(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``data_stores-has-key-or-create`` (``components/data_stores/actions/
    has-key-or-create/has-key-or-create.mjs`` 0.1.4): ``{existingKeyFound,
    newKeyCreated}``, and the value (and ttl) set with ``addRecordIfNotFound: Yes``."""
    store, key = _store(props), props.get("key")
    if key in store:
        pd.export("$summary", f'Key "{js_string(key)}" exists.')
        return {"existingKeyFound": True, "newKeyCreated": False}
    if _should_add(props):
        parsed, ttl = parse_value(props.get("value")), _ttl(props)
        store.set(key, parsed, ttl=ttl)
        pd.export(
            "$summary", f'Key "{js_string(key)}" was not found. Successfully added a new record.'
        )
        created: dict[str, Any] = {
            "existingKeyFound": False,
            "newKeyCreated": True,
            "value": parsed,
        }
        if ttl:
            created["ttl"] = ttl
        return created
    pd.export("$summary", f'Key "{js_string(key)}" does not exist.')
    return {"existingKeyFound": False, "newKeyCreated": False}


def has_key(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``data_stores-has-key`` (0.0.1): whether ``key`` is in the store."""
    return props.get("key") in _store(props)


def list_keys(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``data_stores-list-keys`` (``components/data_stores/actions/list-keys/
    list-keys.mjs`` 0.0.4): the store's keys."""
    keys = list(_store(props).keys())
    pd.export("$summary", f"Found {len(keys)} key(s)." if keys else "No keys found.")
    return keys


def list_records(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``data_stores-list-records`` (``components/data_stores/actions/list-records/
    list-records.mjs`` 0.0.5): the records (of ``keys``, if given) as an object
    (``returnType`` ``object``, the default) or an array of ``{key, value}``."""
    store = _store(props)
    wanted = props.get("keys")
    kind = props.get("returnType") or "object"
    if kind not in ("object", "array"):
        raise Exception(f"Unknown return type: {js_string(kind)}")
    records = [(k, v) for k, v in store.items() if not wanted or k in wanted]
    pd.export("$summary", f"Found {len(records)} record(s)." if records else "No record found.")
    if kind == "array":
        return [{"key": k, "value": v} for k, v in records]
    return dict(records)


def get_difference(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``data_stores-get-difference`` (``components/data_stores/actions/get-difference/
    get-difference.mjs`` 0.0.4): the records of ``dataStoreA`` whose keys ``dataStoreB``
    lacks, in A's order, as an object (``returnType`` ``object``, the default) or an array
    of ``{key, value}``."""
    a, b = _store(props, "dataStoreA"), _store(props, "dataStoreB")
    kind = props.get("returnType") or "object"
    absent = set(b.keys())
    records = [(key, a[key]) for key in dict.fromkeys(a.keys()) if key not in absent]
    pd.export("$summary", f"Found {len(records)} record(s)." if records else "No records found.")
    if kind == "object":
        return dict(records)
    if kind == "array":
        return [{"key": k, "value": v} for k, v in records]
    raise Exception(f"Unknown return type: {js_string(kind)}")


def get_record_keys(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``data_stores-get-record-keys`` (``components/data_stores/actions/get-record-keys/
    get-record-keys.mjs`` 0.0.5): the dotted paths (``key.field.0``) of every leaf value
    of every record that equals ``query`` (or holds it, with ``contains``; either
    ignoring case, with ``caseInsensitive``), compared as JavaScript's ``String(value)``,
    with those values."""
    store, query = _store(props), props.get("query")
    contains, fold = truthy(props.get("contains")), truthy(props.get("caseInsensitive"))
    if fold and not isinstance(query, str):  # query.toLowerCase() throws
        raise TypeError("query.toLowerCase is not a function: give the query as text")
    wanted = query.lower() if fold and isinstance(query, str) else query
    # String.prototype.includes converts its argument to text (a missing prop: undefined)
    needle = (
        wanted if isinstance(wanted, str) else "undefined" if query is None else js_string(query)
    )
    keys: list[str] = []
    values: list[Any] = []

    def visit(value: Any, path: str) -> None:
        if isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, f"{path}{index}.")
            return
        if isinstance(value, dict):
            for name, item in value.items():
                visit(item, f"{path}{name}.")
            return
        text = js_string(value).lower() if fold else js_string(value)
        if needle in text if contains else text == wanted:
            keys.append(path[:-1])
            values.append(value)

    visit(dict(store.items()), "")
    pd.export(
        "$summary",
        f"Successfully returned {len(keys)} key(s). Please notice that values[0] refer to "
        f"the first key in keys[0] and so on.",
    )
    return {"hasRegisteredKeys": bool(keys), "keys": keys, "values": values}


def update_ttl(pd: Pipedream, props: dict[str, Any], version: str) -> Any:
    """``data_stores-update-ttl`` (``components/data_stores/actions/update-ttl/
    update-ttl.mjs`` 0.0.1): a new TTL for ``key`` (``ttlOption``: ``custom`` takes
    ``ttl``, else its seconds; 0 removes the expiry). The component's ``ttlFormatted``
    (its app's wording) is left out."""
    store, key = _store(props), props.get("key")
    option = props.get("ttlOption")
    ttl = props.get("ttl") if option == "custom" else _data(_parse_int(option))
    if key not in store:
        pd.export("$summary", f"No record found with key `{js_string(key)}`.")
        return {"success": False, "message": f"No record found with key {js_string(key)}"}
    if ttl == 0:
        store.set_ttl(key, ttl=None)
        pd.export("$summary", f"Successfully removed expiration for key `{js_string(key)}`.")
        return {"success": True, "key": key, "ttl": None, "message": "Expiration removed"}
    store.set_ttl(key, ttl=ttl)
    pd.export("$summary", f"Successfully updated expiration for key `{js_string(key)}`.")
    return {"success": True, "key": key, "ttl": ttl}


def _parse_int(value: Any) -> float:
    """JavaScript's ``parseInt(value, 10)``: the whole number at the start, or NaN."""
    match = re.match(r"[+-]?\d+", js_string(value).lstrip(_JS_SPACE))
    return float(match.group(0)) if match else math.nan


# -- the registry: the key (``uses`` without ``@version``) to its function ------------

ACTIONS: dict[str, Action] = {
    "http-return-http-response": return_http_response,
    "filter-continue-based-on-condition": filter_continue,
    "filter-end-based-on-condition": filter_end,
    "filter-end-workflow-execution": filter_end_execution,
    "filter-end-workflow-custom-condition": filter_custom_condition,
    "email-send-email-to-self": send_email_to_self,
    "helper_functions-download-file-to-tmp": download_file_to_tmp,
    "delay-workflow-delay": workflow_delay,
    "delay-delay-workflow": workflow_delay_legacy,
    "data_stores-get-record-or-create": get_record_or_create,
    "data_stores-get-record": get_record,
    "data_stores-add-update-record": add_update_record,
    "data_stores-add-update-multiple-records": add_update_multiple_records,
    "data_stores-append-to-record": append_to_record,
    "data_stores-delete-single-record": delete_single_record,
    "data_stores-delete-all-records": delete_all_records,
    "data_stores-has-key-or-create": has_key_or_create,
    "data_stores-has-key": has_key,
    "data_stores-list-keys": list_keys,
    "data_stores-list-records": list_records,
    "data_stores-update-ttl": update_ttl,
    "data_stores-get-difference": get_difference,
    "data_stores-get-record-keys": get_record_keys,
}


def split_uses(uses: str) -> tuple[str, str]:
    """A registry action's ``uses`` as its key and version (``""`` if none)."""
    key, _, version = uses.partition("@")
    return key, version


def emulated(uses: str) -> bool:
    """Whether pdee runs the registry action ``uses`` (``<key>@<version>``)."""
    return split_uses(uses)[0] in ACTIONS


def handler_for(uses: str) -> Callable[[Pipedream], Any]:
    """The step's ``handler(pd)`` for the registry action ``uses``.

    Raises:
        KeyError: pdee does not emulate that action.
    """
    key, version = split_uses(uses)
    action = ACTIONS[key]

    def handler(pd: Pipedream) -> Any:
        return action(pd, pd.inputs, version)

    handler.__qualname__ = handler.__name__ = key
    return handler


__all__ = ["ACTIONS", "check_condition", "emulated", "handler_for", "parse_value", "split_uses"]
