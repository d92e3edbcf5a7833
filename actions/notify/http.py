"""One HTTP POST for a channel: its failure classified, secrets scrubbed, text made inert."""

from __future__ import annotations

import json
from typing import Any

import httpx

from actions.notify.errors import DeliveryError
from actions.notify.neutralise import one_line
from actions.notify.secrets import Scrubber


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any] | list[dict[str, Any]],
    *,
    what: str,
    scrub: Scrubber,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST `body` as JSON (a list: one object per line, HEC's batch form); 2xx or DeliveryError.

    Network trouble, 408, 429 and 5xx are retryable; any other 4xx is permanent
    (the same request will never be accepted). Messages name the channel, never
    the URL: for a Slack webhook the URL is the secret.
    """
    objects = body if isinstance(body, list) else [body]
    content = "\n".join(
        json.dumps(obj, ensure_ascii=False, separators=(",", ":")) for obj in objects
    ).encode("utf-8")
    try:
        response = await client.post(
            url,
            content=content,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
    except httpx.TimeoutException as error:
        raise DeliveryError(
            f"{what}: timed out ({type(error).__name__})", permanent=False
        ) from None
    except httpx.InvalidURL:
        raise DeliveryError(
            f"{what}: the configured URL is not a valid URL", permanent=False
        ) from None
    except httpx.HTTPError as error:
        detail = one_line(scrub(str(error)), 200) or type(error).__name__
        raise DeliveryError(f"{what}: {type(error).__name__}: {detail}", permanent=False) from None
    if 200 <= response.status_code < 300:
        return response
    # The receiver's words go to the record and a terminal: scrubbed whole, then one
    # line without controls, then cut (so a cut never leaves part of a secret behind).
    snippet = one_line(scrub(response.text), 200)
    message = f"{what}: HTTP {response.status_code}" + (f": {snippet}" if snippet else "")
    status = response.status_code
    retryable = status in (408, 429) or status >= 500
    raise DeliveryError(message, permanent=not retryable, retry_after=_retry_after(response))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 86_400 else None
