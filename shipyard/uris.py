"""Connection URIs made safe to print: the password (and secret query parameters) replaced by ``***``.

Production URIs carry credentials (``postgresql://mlflow:<password>@db/mlflow``,
``redis://:<password>@redis:6379/0``); anything the CLI, the demo or the monitor prints or logs goes
through ``mask_password`` (one URI) or ``mask_passwords`` (free text that may contain URIs).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
SECRET_QUERY_KEYS = frozenset({"password", "pass", "passwd", "pwd", "secret", "token", "access_token",
                               "api_key", "apikey", "sslpassword"})
# scheme://anything-up-to-whitespace-or-a-quote: URIs embedded in log lines and error messages.
_URI_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")


def mask_password(uri: str) -> str:
    """``uri`` with the password of its user info and secret query values replaced by ``***``."""
    try:
        parts = urlsplit(uri)
    except ValueError:  # not parseable as a URI (e.g. an unbalanced IPv6 bracket): hide what could leak
        return _mask_userinfo_by_text(uri)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{host}"
        elif parts.scheme.startswith(("redis", "rediss")) and userinfo:
            netloc = f"{MASK}@{host}"  # redis://<password>@host: a lone user info is the password
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(key.lower() in SECRET_QUERY_KEYS for key, _ in pairs):
            query = urlencode([(k, MASK if k.lower() in SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*")
    if netloc == parts.netloc and query == parts.query:
        return uri  # nothing secret; rebuilding would also drop an empty authority (sqlite:////path)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask_passwords(text: str) -> str:
    """``text`` with every URI in it masked by ``mask_password``."""
    return _URI_IN_TEXT.sub(lambda match: mask_password(match.group(0)), text)


def _mask_userinfo_by_text(uri: str) -> str:
    scheme, sep, rest = uri.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return uri
    authority, slash, tail = rest.partition("/")
    _, host = authority.rsplit("@", 1)
    return f"{scheme}://{MASK}@{host}{slash}{tail}"
