"""JSON responses, Status errors and `Warning:` headers for the aiohttp handlers."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .status import ApiError


def json_response(body: Any, code: int = 200, warnings: list[str] | None = None) -> web.Response:
    response = web.Response(status=code, body=json.dumps(body).encode(),
                            content_type="application/json")
    for text in warnings or []:
        # RFC 7234 warn-code 299 with an escaped quoted text, as the API server sends it.
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        response.headers.add("Warning", f'299 - "{escaped}"')
    return response


def error_response(error: ApiError) -> web.Response:
    return json_response(error.status, error.code)
