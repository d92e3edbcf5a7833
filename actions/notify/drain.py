"""Sending what the outbox holds: each notification delivered once, none lost.

`warroom notify --retry` drains with `everything_now`: what waits for its
backoff is sent at once (the operator has just fixed the channel).

`drain_outbox` leases the due notifications (two warrooms never send one
twice), sends each channel's in order, and records the outcome: delivered; a
retry time with backoff (network trouble, 5xx, 429, a secret not set yet); or
given up (a permanent refusal, or failing for longer than the configured
patience), with the error. A failing channel holds back its later
notifications, so Slack never shows "resolved" before "opened".
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from actions.config import Settings
from actions.notify import email, pagerduty, siem, slack
from actions.notify.backoff import past_give_up, retry_delay
from actions.notify.errors import DeliveryError
from actions.notify.neutralise import without_controls
from actions.notify.record_feed import forward_record_entries
from actions.notify.secrets import Scrubber
from store import Record, iso
from store.outbox import OutboxItem
from store.wording import counted

# httpx logs every request URL at INFO, and a Slack webhook URL is a secret.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

# A claimed notification is ours for this long; sends are bounded by the timeout.
LEASE = timedelta(minutes=10)
# A claim sets the item's next attempt to claim time + LEASE. `drain_outbox(now=True)`
# leaves alone what looks claimed in the last minute: another warroom may be sending it.
IN_FLIGHT = timedelta(minutes=1)
# Splunk HEC takes several events per request, as JSON lines.
HEC_BATCH = 50
CLAIM_ROUND = 100


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one notification in a drain."""

    outbox_id: int
    incident_id: str | None
    channel: str
    event: str
    detail: str  # what the receiver said, or the error (never a secret)
    retry_at: datetime | None = None
    gave_up: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "outbox_id": self.outbox_id,
            "incident_id": self.incident_id,
            "channel": self.channel,
            "event": self.event,
            "detail": self.detail,
            "retry_at": self.retry_at.isoformat() if self.retry_at else None,
            "gave_up": self.gave_up,
        }


@dataclass(slots=True)
class DrainReport:
    delivered: list[Attempt] = field(default_factory=list)
    failed: list[Attempt] = field(default_factory=list)  # tried and failed (gave_up: final)
    deferred: list[Attempt] = field(default_factory=list)  # not tried: its channel was failing
    queued: list[OutboxItem] = field(default_factory=list)  # still waiting after this drain

    def to_dict(self) -> dict[str, Any]:
        return {
            "delivered": [a.to_dict() for a in self.delivered],
            "failed": [a.to_dict() for a in self.failed],
            "deferred": [a.to_dict() for a in self.deferred],
            "queued": [item_to_dict(item) for item in self.queued],
        }


def item_to_dict(item: OutboxItem) -> dict[str, Any]:
    """An outbox entry for `--json` (the payload left out: it is for the receiver)."""
    return {
        "outbox_id": item.id,
        "incident_id": item.incident_id,
        "channel": item.channel,
        "event": item.event,
        "dedup_key": item.dedup_key,
        "status": item.status,
        "attempts": item.attempts,
        "created_at": item.created_at.isoformat(),
        "next_attempt_at": item.next_attempt_at.isoformat() if item.next_attempt_at else None,
        "last_error": item.last_error,
        "delivered_at": item.delivered_at.isoformat() if item.delivered_at else None,
    }


async def drain_outbox(
    record: Record,
    settings: Settings,
    *,
    now: datetime | None = None,
    limit: int = 1000,
    rng: random.Random | None = None,
    everything_now: bool = False,
) -> DrainReport:
    """Send every due notification once; returns what was delivered, failed and is still queued.

    `now` (default: the record's clock) judges what is due and dates retries
    and the give-up patience. `everything_now` (`warroom notify --retry`: the
    operator has just fixed a channel) sends what waits for its backoff too,
    in order, except what another warroom may be sending at this moment.
    At most `limit` notifications are handled in one drain.
    """
    now = now or record.clock()
    rng = rng or random.Random()
    report = DrainReport()
    forward_record_entries(record, settings.alerting.siem)
    if everything_now:
        _due_now(record, now)
    sender = _Sender(settings)
    handled = 0
    try:
        # Claimed in rounds: a channel that is down (its items now wait for a retry)
        # must not keep the others' items out of this drain.
        while handled < limit:
            round_size = min(CLAIM_ROUND, limit - handled)
            claimed = record.outbox.claim_due(limit=round_size, lease=LEASE, now=now)
            if not claimed:
                break
            handled += len(claimed)
            heads = _channel_heads(record)
            by_channel: dict[str, list[OutboxItem]] = {}
            for item in claimed:
                by_channel.setdefault(item.channel, []).append(item)
            await asyncio.gather(
                *(
                    _drain_channel(record, settings, sender, items, heads, now, rng, report)
                    for items in by_channel.values()
                )
            )
            if len(claimed) < round_size:
                # Everything due was claimed: another round would only pick up this
                # drain's own failures again, if their backoff is already over.
                break
    finally:
        await sender.close()
    report.queued = record.outbox.items(status="queued")
    return report


def _due_now(record: Record, now: datetime) -> int:
    """Make the queued notifications waiting for a retry due at `now`; returns how many."""
    claimed_from, claimed_to = iso(now + LEASE - IN_FLIGHT), iso(now + LEASE)
    with record.write() as txn:
        return txn.conn.execute(
            "UPDATE outbox_state SET next_attempt_at = ? WHERE status = 'queued' "
            "AND next_attempt_at > ? AND NOT (next_attempt_at > ? AND next_attempt_at <= ?)",
            (iso(now), iso(now), claimed_from, claimed_to),
        ).rowcount


def _channel_heads(record: Record) -> dict[str, int]:
    """The oldest notification still queued on each channel."""
    heads: dict[str, int] = {}
    for item in record.outbox.items(status="queued"):
        heads.setdefault(item.channel, item.id)
    return heads


async def _drain_channel(
    record: Record,
    settings: Settings,
    sender: _Sender,
    items: list[OutboxItem],
    heads: dict[str, int],
    now: datetime,
    rng: random.Random,
    report: DrainReport,
) -> None:
    items.sort(key=lambda item: item.id)
    head = heads.get(items[0].channel)
    if head is not None and head < items[0].id:
        # An older one of this channel is waiting for its retry: keep the order.
        waiting = record.outbox.get(head)
        _defer(record, items, waiting.next_attempt_at or now, f"waiting behind #{head}", report)
        return
    size = HEC_BATCH if items[0].channel == siem.HEC_CHANNEL else 1
    batches = [items[i : i + size] for i in range(0, len(items), size)]
    for index, batch in enumerate(batches):
        retry_at = await _send_batch(record, settings, sender, batch, now, rng, report)
        if retry_at is not None:
            rest = [item for later in batches[index + 1 :] for item in later]
            _defer(record, rest, retry_at, f"waiting behind #{batch[0].id}", report)
            return


async def _send_batch(
    record: Record,
    settings: Settings,
    sender: _Sender,
    batch: list[OutboxItem],
    now: datetime,
    rng: random.Random,
    report: DrainReport,
) -> datetime | None:
    """Send items in one request; the retry time when the channel is failing, else None."""
    try:
        detail = await (sender.send(batch[0]) if len(batch) == 1 else sender.send_hec(batch))
    except DeliveryError as error:
        if error.permanent and len(batch) > 1:
            # One bad event must not sink the others: try them one by one.
            for single in batch:
                retry_at = await _send_batch(record, settings, sender, [single], now, rng, report)
                if retry_at is not None:
                    rest = batch[batch.index(single) + 1 :]
                    _defer(record, rest, retry_at, f"waiting behind #{single.id}", report)
                    return retry_at
            return None
        if error.permanent:
            _give_up(record, batch[0], f"gave up: {error.message}", report)
            return None
        retry = settings.alerting.retry
        head = batch[0]
        retry_at = now + retry_delay(head.attempts, retry, rng, retry_after=error.retry_after)
        waiting = False
        for item in batch:
            if past_give_up(item.created_at, now, retry):
                message = (
                    f"gave up after {counted(item.attempts + 1, 'attempt')} over "
                    f"{retry.give_up_after_hours:g} h: {error.message}"
                )
                _give_up(record, item, message, report)
            else:
                record.outbox.mark_failed(item.id, error.message, retry_at=retry_at)
                report.failed.append(_attempt(item, error.message, retry_at=retry_at))
                waiting = True
        # The rest of the channel waits only behind something that will be retried.
        return retry_at if waiting else None
    for item in batch:
        record.outbox.mark_delivered(item.id, detail=detail)
        report.delivered.append(_attempt(item, detail))
    return None


def _give_up(record: Record, item: OutboxItem, message: str, report: DrainReport) -> None:
    record.outbox.mark_failed(item.id, message, retry_at=None, give_up=True)
    report.failed.append(_attempt(item, message, gave_up=True))


def _defer(
    record: Record, items: list[OutboxItem], until: datetime, why: str, report: DrainReport
) -> None:
    # Keeps the channel's order and frees the lease without counting an attempt.
    for item in items:
        record.outbox.defer(item.id, until, f"not sent yet: {why}")
        report.deferred.append(_attempt(item, why, retry_at=until))


def _attempt(
    item: OutboxItem, detail: str, *, retry_at: datetime | None = None, gave_up: bool = False
) -> Attempt:
    return Attempt(item.id, item.incident_id, item.channel, item.event, detail, retry_at, gave_up)


class _Sender:
    """Sends one outbox item on its channel, with the secrets read now and scrubbed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.timeout = settings.alerting.timeout_seconds
        self.scrub = Scrubber()
        self._clients: dict[Path | None, httpx.AsyncClient] = {}

    def client(self, ca_file: Path | None = None) -> httpx.AsyncClient:
        if ca_file not in self._clients:
            verify: ssl.SSLContext | bool = (
                ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
            )
            self._clients[ca_file] = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout), verify=verify, follow_redirects=False
            )
        return self._clients[ca_file]

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def send_hec(self, items: list[OutboxItem]) -> str:
        """Several HEC events in one request (JSON lines)."""
        hec = self.settings.alerting.siem
        if hec is None or not hec.enabled:
            raise DeliveryError("siem-hec is not configured; queued until it is", permanent=False)
        payloads = [item.payload for item in items]
        try:
            return self.clean(
                await siem.send_hec(payloads, hec, self.client(hec.ca_file), self.scrub)
            )
        except DeliveryError as error:
            error.message = self.clean(error.message)
            raise

    def clean(self, text: str) -> str:
        """What a receiver said, as the record keeps it: no secret, no control character."""
        return without_controls(self.scrub(text))

    async def send(self, item: OutboxItem) -> str:
        alerting = self.settings.alerting
        senders: dict[str, tuple[Any, Callable[[Any], Any]]] = {
            pagerduty.CHANNEL: (
                alerting.pagerduty,
                lambda s: pagerduty.send(item.payload, s, self.client(), self.scrub),
            ),
            slack.CHANNEL: (
                alerting.slack,
                lambda s: slack.send(item.payload, s, self.client(), self.scrub),
            ),
            email.CHANNEL: (
                alerting.email,
                lambda s: email.send(item.payload, s, item.dedup_key, self.timeout, self.scrub),
            ),
            siem.HEC_CHANNEL: (
                alerting.siem,
                lambda s: siem.send_hec([item.payload], s, self.client(s.ca_file), self.scrub),
            ),
            siem.SYSLOG_CHANNEL: (
                alerting.siem,
                lambda s: siem.send_syslog(item.payload, s, self.timeout),
            ),
        }
        if item.channel not in senders:
            raise DeliveryError(f"unknown channel {item.channel!r}", permanent=True)
        channel_settings, send = senders[item.channel]
        if channel_settings is None or not channel_settings.enabled:
            where = self.settings.source or "the configuration (no file)"
            raise DeliveryError(
                f"{item.channel} is not configured in {where}; queued until it is",
                permanent=False,
            )
        try:
            return self.clean(str(await send(channel_settings)))
        except DeliveryError as error:
            error.message = self.clean(error.message)
            raise
        except Exception as error:  # a bug must not lose the notification or leak a secret
            detail = self.clean(str(error))[:200]
            raise DeliveryError(
                f"{item.channel}: unexpected {type(error).__name__}: {detail}", permanent=False
            ) from None


async def run_drainer(
    record: Record,
    settings: Settings,
    stop: asyncio.Event,
    *,
    interval: float = 15.0,
    on_report: Callable[[DrainReport], None] | None = None,
    wake: asyncio.Event | None = None,
) -> None:
    """Drain every `interval` seconds until `stop` is set (the console's automatic retry).

    Setting `wake` starts the next round at once (what an escalation just queued).
    """
    while not stop.is_set():
        report = await drain_outbox(record, settings)
        if on_report is not None and (report.delivered or report.failed):
            on_report(report)
        await _first_of(stop, wake, at_most=interval)
        if wake is not None:
            wake.clear()


async def _first_of(stop: asyncio.Event, wake: asyncio.Event | None, *, at_most: float) -> None:
    """Wait until `stop` or `wake` is set, or `at_most` seconds have passed."""
    waits = [asyncio.ensure_future(event.wait()) for event in (stop, wake) if event is not None]
    try:
        await asyncio.wait(waits, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
