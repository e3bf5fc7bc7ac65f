"""Request headers without the email package on the common path.

gevent's pywsgi reads a request's headers with http.client.parse_headers, which hands them to the email
package's feed parser: ~28 us for the five headers of a capture, more than the rest of the HTTP parsing
(bench/README.md, "Capture path, the live slice"). parse_request_headers reads the lines exactly as
http.client does (the same line and count limits) and, when every line is a plain `Name: value` line, fills
the same message object pywsgi expects itself. Anything else (a folded continuation line, a line without a
colon, a stray CR, an empty name) goes to the email parser as before, so odd requests get the same answer.
"""

from __future__ import annotations

import email.parser
import http.client
import re
from typing import BinaryIO

from gevent.pywsgi import OldMessage

# http.client's limits (http.client._MAXLINE, _MAXHEADERS), kept so the answers to oversized requests hold.
MAX_LINE = 65536
MAX_HEADERS = 100
# What the email package's feed parser reads as a header line (email.feedparser.headerRE's name part, the
# printable characters but the colon), with a non-empty name and nothing that parser would split a line at.
_PLAIN_LINE = re.compile(r"([\x21-\x39\x3b-\x7e]+):([^\r\n]*)\r?\n\Z")
_END_OF_HEADERS = (b"\r\n", b"\n", b"")


def parse_request_headers(fp: BinaryIO) -> OldMessage:
    """The headers pywsgi's headers_factory would return for the same bytes (a status of 'Line too long' for
    a line over MAX_LINE; http.client.HTTPException beyond MAX_HEADERS lines, as http.client raises)."""
    lines: list[bytes] = []
    while True:
        line = fp.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            message = OldMessage()
            message.status = "Line too long"
            return message
        lines.append(line)
        if len(lines) > MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")
        if line in _END_OF_HEADERS:
            break
    pairs = _plain_pairs(lines[:-1])  # the last line is the one that ended the headers
    if pairs is None:
        return email.parser.Parser(_class=OldMessage).parsestr(b"".join(lines).decode("iso-8859-1"))
    message = OldMessage()
    message._headers = pairs  # what email's compat32 policy stores for these lines (header_source_parse)
    return message


def _plain_pairs(lines: list[bytes]) -> list[tuple[str, str]] | None:
    """(name, value) for each line, as the email package's compat32 policy would store them; None when a
    line is anything but a plain one-line header."""
    pairs = []
    for line in lines:
        match = _PLAIN_LINE.match(line.decode("iso-8859-1"))
        if match is None:
            return None
        pairs.append((match.group(1), match.group(2).lstrip(" \t")))
    return pairs
