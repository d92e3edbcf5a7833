"""Secrets for the alert channels: read at send time only, and scrubbed from every message."""

from __future__ import annotations

import os
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

from actions.config import SecretRef
from actions.notify.errors import DeliveryError

REDACTED = "[redacted]"


def read_secret(ref: SecretRef, what: str) -> str:
    """The secret's value; a retryable DeliveryError that names where it was looked for."""
    if ref.file is not None:
        try:
            value = ref.file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise DeliveryError(
                f"cannot read the {what} from {ref.file}: {error.strerror}", permanent=False
            ) from None
        if not value:
            raise DeliveryError(f"the {what} file {ref.file} is empty", permanent=False)
        return value
    if ref.env:
        value = os.environ.get(ref.env, "").strip()
        if not value:
            raise DeliveryError(
                f"the {what} is not set: export {ref.env} (then run `warroom notify --retry`)",
                permanent=False,
            )
        return value
    raise DeliveryError(f"no {what} configured", permanent=False)


class Scrubber:
    """Replaces known secret values (and their URL-encoded forms) with a marker."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._needles: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        # Short values would redact ordinary words; real keys and URLs are long.
        if len(secret) < 4:
            return
        for form in (secret, quote(secret, safe=""), quote(secret, safe="/:")):
            if form not in self._needles:
                self._needles.append(form)
        self._needles.sort(key=len, reverse=True)

    def add_url(self, url: str) -> None:
        """A URL that is itself a secret (a Slack webhook): the URL, its path, its long parts."""
        self.add(url)
        path = urlsplit(url).path
        if len(path) > 1:
            self.add(path)
        for part in path.split("/"):
            # Long segments are the random tokens; short ones are words like "services".
            if len(part) >= 12:
                self.add(part)

    def __call__(self, text: str) -> str:
        for needle in self._needles:
            text = text.replace(needle, REDACTED)
        return text
