"""Secrets for the alert channels: read at send time only, and scrubbed from every message."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, urlsplit

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


# A receiver's echo of this many characters of a secret, or more, is redacted: a gateway
# that cuts a key it quotes must not leak most of it. Shorter runs are ordinary text.
FRAGMENT = 8


class Scrubber:
    """Replaces known secret values with a marker, in every form a receiver may echo them.

    Each secret is found whatever its case, URL-encoded (`%2F` or `%2f`, `+` for
    a space), base64-encoded (standard or URL-safe, at any offset in the encoded
    text: an `Authorization: Basic` or SMTP `AUTH PLAIN` echo), and, for secrets
    of `FRAGMENT` characters or more, any run of `FRAGMENT` or more of its
    characters (a cut echo, "key R0ut1ngK3y..." or its lower-cased form).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._fragments: dict[str, set[str]] = {}  # folded secret -> its folded FRAGMENT-grams
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str, *, fragments: bool = True) -> None:
        """Scrub `secret`; `fragments=False` for a value whose parts are public (a URL)."""
        # Short values would redact ordinary words; real keys and URLs are long.
        if len(secret) < 4:
            return
        forms = {secret, quote(secret, safe=""), quote(secret, safe="/:"), quote_plus(secret)}
        forms |= _base64_forms(secret.encode("utf-8"))
        self._forms |= {form for form in forms if len(form) >= 4}
        self._pattern = None
        folded = _fold(secret)
        if fragments and len(folded) >= FRAGMENT:
            grams = {folded[i : i + FRAGMENT] for i in range(len(folded) - FRAGMENT + 1)}
            self._fragments[folded] = grams

    def add_url(self, url: str) -> None:
        """A URL that is itself a secret (a Slack webhook): the URL, its path, its long parts."""
        self.add(url, fragments=False)
        path = urlsplit(url).path
        if len(path) > 1:
            self.add(path, fragments=False)
        for part in path.split("/"):
            # Long segments are the random tokens; short ones are words like "services".
            if len(part) >= 12:
                self.add(part)

    def __call__(self, text: str) -> str:
        if not self._forms:
            return text
        if self._pattern is None:
            longest_first = sorted(self._forms, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, longest_first)), re.IGNORECASE)
        text = self._pattern.sub(REDACTED, text)
        for secret, grams in self._fragments.items():
            text = _redact_fragments(text, secret, grams)
        return text


def _fold(text: str) -> str:
    """Lower case, one character for one (so positions in the folded text are the text's)."""
    folded = text.lower()
    if len(folded) == len(text):
        return folded
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _base64_forms(secret: bytes) -> set[str]:
    """What a secret's bytes always encode to in base64, whatever bytes come before them.

    Base64 turns 3 bytes into 4 characters, so the secret's encoding depends on
    its offset modulo 3; for each offset, the characters made of its bits alone.
    """
    forms = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret).decode("ascii")
        first = -(-offset * 8 // 6)  # the first character with no bit of the padding
        last = (offset + len(secret)) * 8 // 6  # past the last one with no bit after it
        core = encoded[first:last]
        if len(core) >= FRAGMENT:
            forms |= {core, core.translate(_URL_SAFE)}
    return forms


_URL_SAFE = str.maketrans("+/", "-_")


def _redact_fragments(text: str, secret: str, grams: set[str]) -> str:
    """Every run of FRAGMENT or more characters of `secret` (folded) in `text`, redacted."""
    folded = _fold(text)
    spans: list[tuple[int, int]] = []
    start = 0
    while start <= len(folded) - FRAGMENT:
        if folded[start : start + FRAGMENT] not in grams:
            start += 1
            continue
        end = start + FRAGMENT
        while end < len(folded) and folded[start : end + 1] in secret:
            end += 1
        spans.append((start, end))
        start = end
    if not spans:
        return text
    pieces: list[str] = []
    position = 0
    for start, end in spans:
        pieces += [text[position:start], REDACTED]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
