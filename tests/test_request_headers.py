"""api/request_headers.py reads request headers as pywsgi's own factory (http.client + the email package) does,
without the email package for plain `Name: value` lines (issue 17: ~15 us of every request)."""

from __future__ import annotations

import http.client
import io

import pytest
from gevent.pywsgi import headers_factory
from hypothesis import given, settings
from hypothesis import strategies as st

from api.request_headers import MAX_HEADERS, MAX_LINE, parse_request_headers

PLAIN = [b"Host: 127.0.0.1:8765\r\n", b"Content-Type: application/json\r\n", b"Content-Length: 12\r\n",
         b"Authorization: Bearer abc.def.ghi\r\n", b"X-Empty:\r\n", b"X-Spaces: \t padded  \r\n",
         b"Connection: keep-alive\n", b"content-length: 7\r\n", b"X-Latin: caf\xe9 \x85 ok\r\n"]
ODD = [b" folded continuation\r\n", b"\tfolded with a tab\r\n", b"No colon here\r\n", b": no name\r\n",
       b"Name : space before the colon\r\n", b"X-Cr: a\rB: smuggled\r\n", b"From someone\r\n",
       b"X_Under: score\r\n", b"\r\n", b"\n", b"Bare: lf\n", b"X-Nul: a\x00b\r\n", b"Unterminated: at eof"]


def both(raw: bytes) -> tuple[object, bytes, object, bytes]:
    expected_fp, actual_fp = io.BufferedReader(io.BytesIO(raw)), io.BufferedReader(io.BytesIO(raw))
    expected, actual = headers_factory(expected_fp, 0), parse_request_headers(actual_fp)
    return expected, expected_fp.read(), actual, actual_fp.read()


def assert_same(raw: bytes) -> None:
    expected, expected_rest, actual, actual_rest = both(raw)
    assert actual.status == expected.status
    assert actual._headers == expected._headers  # every (name, value), in order, duplicates included
    assert list(actual.headers) == list(expected.headers)  # what pywsgi builds the environ from
    for name in ("content-length", "Content-Type", "HOST", "transfer-encoding", "x-spaces", "missing"):
        assert actual.get(name) == expected.get(name)
    assert actual_rest == expected_rest  # the body starts at the same byte


@given(st.lists(st.sampled_from(PLAIN + ODD), max_size=12), st.sampled_from([b"\r\n", b"\n", b""]))
@settings(max_examples=400, deadline=None)
def test_any_header_block_reads_as_pywsgi_reads_it(lines, end):
    assert_same(b"".join(lines) + end + b"BODY")


@given(st.binary(max_size=200))
@settings(max_examples=400, deadline=None)
def test_arbitrary_bytes_read_as_pywsgi_reads_them(raw):
    assert_same(raw)


def test_an_overlong_line_and_too_many_headers_are_refused_as_before():
    long_line = b"X-Long: " + b"a" * MAX_LINE + b"\r\n\r\n"
    expected, _, actual, _ = both(long_line)
    assert actual.status == expected.status == "Line too long"
    many = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS + 1)) + b"\r\n"
    for parse in (lambda fp: headers_factory(fp, 0), parse_request_headers):
        with pytest.raises(http.client.HTTPException):
            parse(io.BufferedReader(io.BytesIO(many)))
