"""Answers recorded from real instances (:data:`RECORDED`), served by a :class:`RawServer`."""

from __future__ import annotations

from collections.abc import Mapping

from tests.support.raw_server import http_answer

RECORDED_TOKEN = b"AQAEAFUmdlJ1Y5ZqVgG6p2zV8Pj0nqbv2Qp1dW9sTzJtQ0xXbU5HZz09"
_DATE = {"Date": "Tue, 14 Mar 2023 09:30:01 GMT"}
_PLAIN = {
    "Content-Type": "text/plain",
    "Accept-Ranges": "none",
    "Last-Modified": "Tue, 14 Mar 2023 09:12:44 GMT",
    **_DATE,
}
_NOT_FOUND = b"""\
<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>404 - Not Found</title>
 </head>
 <body>
  <h1>404 - Not Found</h1>
 </body>
</html>
"""
IAM_INFO = b"""{
  "Code" : "Success",
  "LastUpdated" : "2022-11-08T10:02:53Z",
  "InstanceProfileArn" : "arn:aws:iam::123456789012:instance-profile/web",
  "InstanceProfileId" : "AIPAXXXXXXXXXXXXXXXXX"
}"""
RECORDED_USER_DATA = b"#!/bin/bash\n\x00\xff binary \xfe and no Content-Length: the close ends it\n"

#: Path -> the answer bytes, as curl -v transcripts of real instances show them.
RECORDED: dict[tuple[str, str], bytes] = {
    ("PUT", "/latest/api/token"): http_answer(
        "200 OK",
        RECORDED_TOKEN,
        {"X-Aws-Ec2-Metadata-Token-Ttl-Seconds": "21600", **_DATE, "Content-Type": "text/plain"},
    ),
    ("GET", "/latest/meta-data/instance-id"): http_answer("200 OK", b"i-0c7a1b2c3d4e5f607", _PLAIN),
    ("GET", "/latest/meta-data/iam/info"): http_answer("200 OK", IAM_INFO, _PLAIN),
    # Answered as HTTP/1.0, without Content-Length: the body ends when the connection does.
    ("GET", "/latest/user-data"): http_answer(
        "200 OK",
        RECORDED_USER_DATA,
        {**_PLAIN, "Content-Type": "application/octet-stream", "Content-Length": ""},
        version="1.0",
    ),
    ("GET", "/latest/meta-data/iam/security-credentials"): http_answer(
        "301 Moved Permanently",
        b"",
        {
            "Location": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            **_DATE,
        },
    ),
    ("GET", "/latest/api/token"): http_answer(
        "405 Method Not Allowed", b"", {"Allow": "OPTIONS, PUT", **_DATE}
    ),
}


def recorded(method: str, path: str, headers: Mapping[str, str]) -> bytes:
    """The recorded answer to a request, or EC2's 404 page."""
    found = RECORDED.get((method, path))
    if found is not None:
        return found
    return http_answer("404 Not Found", _NOT_FOUND, {"Content-Type": "text/html", **_DATE})
