"""Reading a request body safely: size, total read time, and JSON nesting depth.

The read deadline itself is enforced under gunicorn by `app.gunicorn_worker`, which raises
`BodyDeadline` from the socket read that would pass it; the error handlers answer it as a 408
in the one error shape. Nothing here imports gunicorn: the app runs under any WSGI server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge, RequestTimeout

from pipeline.errors import DataError, RiskwatchError


class BodyDeadline(RiskwatchError, RequestTimeout):
    """The client did not send its request (headers or body) within the deadline: 408.

    A werkzeug HTTPException (the app's handler answers it), not an OSError: werkzeug turns an
    OSError from the input stream into "client disconnected" (400), and gunicorn logs one from
    a socket as its own failure.
    """

    def __init__(self, what: str, seconds: float, setting: str | None = None) -> None:
        where = f" (setting {setting})" if setting else ""
        super().__init__(f"the request {what} did not arrive within {seconds:g} s{where}")


def read_body(environ: Mapping[str, Any], limit: int) -> bytes:
    """The whole request body, at most `limit` bytes (else 413), chunked or not.

    werkzeug's own limit on a chunked body stops reading at `limit` bytes and hands back a
    truncated body (then "not valid JSON", 400); here one byte more is asked for, so a body
    over the limit is a 413 whatever its framing.
    """
    try:
        return _read(environ["wsgi.input"], environ, limit)
    except HTTPException:  # 408 (BodyDeadline), 413, 400 as raised
        raise
    except OSError as exc:
        raise BadRequest(f"the client stopped sending the body ({exc})") from exc
    except Exception as exc:  # the server's parser refusing the framing: a malformed chunk
        # (gunicorn's own exception classes; this module stays free of any one server)
        raise BadRequest(f"the request body is malformed: {exc}"[:300]) from exc


def _read(stream: Any, environ: Mapping[str, Any], limit: int) -> bytes:
    raw_length = environ.get("CONTENT_LENGTH") or None
    if raw_length is not None:
        try:
            length = int(raw_length)
        except ValueError:
            raise BadRequest(f"Content-Length is not a number: {raw_length[:40]!r}") from None
        if length > limit:
            raise RequestEntityTooLarge()
        data: bytes = stream.read(length) if length > 0 else b""
        if len(data) < length:
            raise BadRequest(
                f"the body ended after {len(data)} of the {length} bytes its Content-Length "
                "announced"
            )
        return data
    if not environ.get("wsgi.input_terminated"):
        return b""  # no length and a server that does not end the stream: no body, per WSGI
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise RequestEntityTooLarge()
    return data


def _constant(name: str) -> float:
    """NaN, Infinity, -Infinity: not JSON, but what json.dumps writes for a careless client's
    float('nan'). Read as floats, so that records_frame refuses them naming their column (and
    a key that is not a feature, which nothing reads, does not fail the request)."""
    return float(name)


def parse_json(raw: bytes, max_depth: int) -> Any:  # any JSON value
    """Parse a JSON document of at most `max_depth` nested arrays and objects.

    NaN, Infinity and -Infinity become floats (see `_constant`); a number beyond float range
    (1e400) parses as an infinity, and a long integer stays an exact int: records_frame refuses
    each with the column it is in (pipeline.model.features).
    """
    depth_error = DataError(
        f"the request body nests arrays and objects deeper than {max_depth} levels "
        "(setting api.max_json_depth)"
    )
    try:
        doc = _loads(raw)
    except RecursionError:  # deeper than Python's own recursion limit
        raise depth_error from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, over 4300 digits
        raise DataError(f"the request body is not valid JSON: {exc}"[:300]) from exc
    if _depth(doc) > max_depth:
        raise depth_error
    return doc


# Every digit as 0, so that 19 zeros in a row are 19 digits in a row: an integer orjson may
# read as a float past 64 bits (json: an exact int). One pass in C, where a regular expression
# of 19 digits tries every digit again.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19


def _loads(raw: bytes) -> Any:
    """json.loads(raw) with `_constant`, from orjson when it reads the same (a third of the time).

    orjson reads every JSON document alike but for integers past 64 bits, which it makes
    floats: a body with 19 digits in a row (anywhere) goes to json.loads. What orjson refuses
    (NaN, a byte-order mark, a lone surrogate, deep nesting, bad JSON) is json.loads' to read
    or to refuse, with its own message.
    """
    if _LONG_RUN not in raw.translate(_DIGITS_AS_ZERO):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw, parse_constant=_constant)


_NESTING = frozenset({dict, list})  # what a parsed document nests: these exact types


def _depth(doc: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (a scalar is 0), a level of
    nesting at a time: each level, the arrays and objects inside the one before."""
    depth = 0
    level = [doc] if type(doc) in _NESTING else []
    while level:
        depth += 1
        inner: list[Any] = []
        for value in level:
            children = value.values() if type(value) is dict else value
            inner += [v for v in children if type(v) in _NESTING]
        level = inner
    return depth
