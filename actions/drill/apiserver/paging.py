"""Continue tokens for `limit`/`continue` paging, shaped and checked as etcd3 storage does.

A token is unpadded URL-safe base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":"KEY\\u0000"}`
(k8s.io/apiserver pkg/storage continue.go): the resourceVersion of the first chunk and the
storage key after which the next chunk starts, relative to the list's prefix (`name` in a
namespace, `namespace/name` across namespaces). A token that does not decode answers 400
`invalid continue token: continue key is not valid: ...` (etcd3 store GetList); one older
than the history 410 Expired, with the apiserver's wording.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from . import status

TOKEN_VERSION = "meta.k8s.io/v1"
EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list.")


@dataclass(frozen=True)
class Start:
    """Where a continued list resumes: after `key`, read at `resource_version`."""

    resource_version: int
    key: str


def storage_key(key: tuple[str, str], prefix: str | None) -> str:
    """The part of an object's etcd key after the list's prefix (what sorts a list)."""
    scope, name = key
    if prefix is not None or not scope:
        return name
    return f"{scope}/{name}"


def encode(resource_version: int, last_key: str) -> str:
    document = {"v": TOKEN_VERSION, "rv": resource_version, "start": last_key + "\x00"}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def invalid(reason: str) -> status.ApiError:
    detail = f": {reason}" if reason else ""
    return status.bad_request(f"invalid continue token: continue key is not valid{detail}")


def expired() -> status.ApiError:
    return status.error(410, "Expired", EXPIRED_MESSAGE)


def decode(token: str, prefix: str | None) -> Start:
    """The start of a continued list; ApiError 400 for anything that is not a valid token."""
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        document = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as error:
        raise invalid(_go_like(error)) from None
    if not isinstance(document, dict) or document.get("v") != TOKEN_VERSION:
        raise invalid("server does not recognize this encoded version")
    version, start = document.get("rv"), document.get("start")
    if not isinstance(version, int) or isinstance(version, bool) or version <= 0:
        raise invalid(f"incorrect encoded start resourceVersion (version {TOKEN_VERSION})")
    if not isinstance(start, str) or not start:
        raise invalid(f"encoded start key empty (version {TOKEN_VERSION})")
    key = start.removesuffix("\x00")
    # A token from a list of one namespace does not continue a list of another.
    if ".." in key.split("/") or (prefix is not None and "/" in key):
        raise invalid("")
    return Start(version, key)


def _go_like(error: Exception) -> str:
    if isinstance(error, binascii.Error):
        return "illegal base64 data"
    return f"invalid character in the decoded token ({type(error).__name__})"
