"""Running the checklist verifiers by name, concurrently, without ever raising.

`VerifyContext` carries what the verifiers read: the cluster (None: cluster
checks answer `unknown`), the namespace, the desired-state file, the alert
channels, and the record with a way to run a call on the record's own thread
(`in_record`: the console passes `WarRoomApp.in_record`; headless callers
`threaded`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from actions.checklists import cluster_checks, record_checks
from actions.checklists.model import VERIFIER_NAMES, ChecklistItem
from actions.checklists.verdict import Verdict, unknown
from actions.config import AlertingSettings

if TYPE_CHECKING:
    from actions.kube.cluster import Cluster
    from store import Record

R = TypeVar("R")


class RecordCall(Protocol):
    """Runs a record call where the caller keeps them (its record thread); awaits its result."""

    def __call__(self, call: Callable[..., R], /, *args: Any, **kwargs: Any) -> Awaitable[R]: ...


async def threaded(call: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
    """Run a record call on a worker thread (for callers without a record thread of their own)."""
    return await asyncio.to_thread(call, *args, **kwargs)


@dataclass(frozen=True)
class VerifyContext:
    """What the verifiers look at; `now` stamps the verdicts and sets the time windows."""

    record: Record
    now: datetime
    since: datetime
    """The incident's opening: notifications since then are judged."""
    cluster: Cluster | None = None
    namespace: str = "voicehive"
    in_record: RecordCall = threaded
    desired_state_file: Path | None = None
    alerting: AlertingSettings = field(default_factory=AlertingSettings)
    mesh: str = "auto"
    suspicious_minutes: int = record_checks.SUSPICIOUS_MINUTES
    notification_grace: timedelta = record_checks.NOTIFICATION_GRACE


def _no_cluster() -> Verdict:
    return unknown("no cluster connection: this check reads the cluster")


async def _services_healthy(context: VerifyContext) -> Verdict:
    if context.cluster is None:
        return _no_cluster()
    return await cluster_checks.services_healthy(context.cluster, context.namespace)


async def _mtls_enforced(context: VerifyContext) -> Verdict:
    if context.cluster is None:
        return _no_cluster()
    return await cluster_checks.mtls_enforced(context.cluster, context.namespace, mesh=context.mesh)


async def _policies_applied(context: VerifyContext) -> Verdict:
    if context.cluster is None:
        return _no_cluster()
    return await cluster_checks.policies_applied(
        context.cluster, context.namespace, context.desired_state_file
    )


async def _no_suspicious_activity(context: VerifyContext) -> Verdict:
    return await context.in_record(
        record_checks.no_suspicious_activity,
        context.record,
        now=context.now,
        minutes=context.suspicious_minutes,
    )


async def _alerting_working(context: VerifyContext) -> Verdict:
    return await context.in_record(
        record_checks.alerting_working,
        context.record,
        context.alerting,
        now=context.now,
        since=context.since,
        grace=context.notification_grace,
    )


VERIFIERS: dict[str, Callable[[VerifyContext], Awaitable[Verdict]]] = {
    "services-healthy": _services_healthy,
    "mtls-enforced": _mtls_enforced,
    "policies-applied": _policies_applied,
    "no-suspicious-activity": _no_suspicious_activity,
    "alerting-working": _alerting_working,
}
assert tuple(VERIFIERS) == VERIFIER_NAMES, "the data's verifier names and the code's differ"


async def run_verifier(name: str, context: VerifyContext) -> Verdict:
    """One verifier's verdict, stamped with `context.now`; a failure is an `unknown` verdict."""
    check = VERIFIERS.get(name)
    if check is None:
        verdict = unknown(f"no verifier named {name!r}")
    else:
        try:
            verdict = await check(context)
        except Exception as error:  # noqa: BLE001 - a check that breaks must not break the console
            verdict = unknown(f"the check failed: {type(error).__name__}: {error}")
    return dataclasses.replace(verdict, checked_at=context.now)


async def verify_items(
    items: Iterable[ChecklistItem], context: VerifyContext
) -> dict[str, Verdict]:
    """The verdict of every verifiable item, by item id; the checks run concurrently, each
    verifier once even when several items share it."""
    wanted = [item for item in items if item.verifier]
    names = list(dict.fromkeys(item.verifier or "" for item in wanted))
    verdicts = dict(
        zip(names, await asyncio.gather(*(run_verifier(n, context) for n in names)), strict=True)
    )
    return {item.id: verdicts[item.verifier or ""] for item in wanted}
