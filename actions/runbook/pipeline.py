"""The one path every action takes.

validate -> preview (exact manifest or patch, server-side dry run with
dryRun=All, a SelfSubjectAccessReview per verb) -> [the caller confirms] ->
intent recorded -> execute, each call under a timeout -> read back and verify
-> outcome recorded (which also writes the timeline entry) -> incident updated
-> the checklist items the outcome proves ticked (`actions.checklists.tick_proven`),
so `warroom act` ticks them as the console does.

Nothing touches the cluster before the intent is committed, and every
execute ends with an outcome, even when the preview already showed that the
action cannot run (a refused attempt is part of the incident's story).

Every record call runs on the action layer's own record thread (one thread:
the calls stay in order and never overlap on the connection), so a write that
waits for another writer (busy_timeout, a long ingest transaction) never
blocks the event loop the console draws from.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from actions.checklists.proven import tick_proven
from actions.kube.cluster import Cluster, ClusterError, Kind, kind_of
from actions.runbook.checks import (
    InvalidRequest,
    check_domain,
    check_incident_id,
    check_label_name,
    check_object_name,
)
from actions.runbook.model import (
    ACTIONS,
    MESHES,
    PENDING_INCIDENT,
    ActionOutcome,
    ActionPreview,
    ActionRequest,
    Change,
    PermissionCheck,
    Problem,
    ProgressSink,
)
from store.incidents import phase_changes
from store.wording import counted

if TYPE_CHECKING:
    from actions.checklists.verify import RecordCall
    from store import Incident, Record

CONTAINMENT = ("isolate", "block-ip", "disable-sa", "mesh-deny")
# What a new incident opened by an action is called and how severe it is assumed to be:
# the runbook contains only active attacks (P0/P1), so containment opens a P1.
NEW_INCIDENT_SEVERITY = {
    "capture": "P2",
    "restore": "P2",
    "rotate-sa": "P1",
    "reapply-policies": "P2",  # the runbook's "network policy configuration drift"
}
TARGET_CHECKS = {
    "isolate": (check_label_name, "SERVICE"),
    "mesh-deny": (check_label_name, "SERVICE"),
    "disable-sa": (check_object_name, "service account NAME"),
    "rotate-sa": (check_object_name, "service account NAME"),
}


@dataclass
class Plan:
    """What an action module works out for a preview."""

    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    no_op: str | None = None
    intent_data: dict[str, Any] = field(default_factory=dict)
    pieces: list[str] = field(default_factory=list)
    # Extra permission checks: (verb, group, resource, subresource, namespace).
    reads: list[tuple[str, str, str, str | None, str]] = field(default_factory=list)


@dataclass
class PlanContext:
    """What an action module may use to plan."""

    cluster: Cluster
    record: Record
    request: ActionRequest
    incident_id: str  # or PENDING_INCIDENT
    now: datetime
    # Runs a record call off the event loop (the action layer's record thread).
    run_in_record: RecordCall | None = None

    async def in_record(self, call: Callable[..., R], /, *args: Any) -> R:
        """`call(*args)` on the record's thread (inline when no runner was given)."""
        if self.run_in_record is None:
            return call(*args)
        return await self.run_in_record(call, *args)

    @property
    def namespace(self) -> str:
        return self.request.namespace

    @property
    def unix_time(self) -> int:
        return int(self.now.timestamp())


Planner = Callable[[PlanContext], Awaitable[Plan]]
R = TypeVar("R")


def _planners() -> dict[str, Planner]:
    from actions.runbook import (
        block_ip,
        capture,
        disable_sa,
        isolate,
        mesh_deny,
        reapply,
        restore,
        rotate_sa,
    )

    return {
        "isolate": isolate.plan,
        "block-ip": block_ip.plan,
        "disable-sa": disable_sa.plan,
        "mesh-deny": mesh_deny.plan,
        "rotate-sa": rotate_sa.plan,
        "capture": capture.plan,
        "restore": restore.plan,
        "reapply-policies": reapply.plan,
    }


def validate_request(request: ActionRequest) -> None:
    """Raise InvalidRequest for input that must be fixed before anything is asked of the cluster."""
    if request.action not in ACTIONS:
        raise InvalidRequest(f"unknown action {request.action!r}: one of {', '.join(ACTIONS)}")
    check_label_name(request.namespace, "namespace")
    if request.incident_id is not None:
        check_incident_id(request.incident_id)
    if request.action in TARGET_CHECKS:
        check, what = TARGET_CHECKS[request.action]
        _of_field("target", check, request.target, what)
    if request.service is not None:
        _of_field("service", check_label_name, request.service, "service")
    if request.domain is not None:
        _of_field("domain", check_domain, request.domain)
    if request.mesh not in MESHES:
        raise InvalidRequest(f"mesh must be one of {', '.join(MESHES)}", field="mesh")
    if request.since_seconds <= 0:
        raise InvalidRequest("the capture window must be positive", field="since_seconds")
    if request.prometheus_url is not None and not request.prometheus_url.startswith(
        ("http://", "https://")
    ):
        raise InvalidRequest("the Prometheus URL must start with http:// or https://")
    check_label_name(request.falco_namespace, "Falco namespace")
    check_label_name(request.prometheus_service[0], "Prometheus namespace")
    check_label_name(request.prometheus_service[1], "Prometheus service")
    if request.action == "block-ip":
        from actions.runbook.block_ip import parse_block

        try:
            parse_block(request.target, request.protected_cidrs)
        except InvalidRequest as error:
            raise InvalidRequest(str(error), field=error.field or "target") from error


def _of_field(name: str, check: Callable[..., object], *args: Any) -> None:
    """Run `check(*args)`; its InvalidRequest names the field `name` as the one at fault."""
    try:
        check(*args)
    except InvalidRequest as error:
        raise InvalidRequest(str(error), field=name) from error


class RunbookActions:
    """The runbook's actions on one cluster, recorded in one record.

    `preview = await actions.preview(request)`; show it; then
    `outcome = await actions.execute(preview)`. `drill`: the cluster is warroom's
    drill cluster, so an incident an action opens for itself is a drill's from
    its first entry (kept apart in the metrics, never taken by a live session).
    """

    def __init__(
        self,
        record: Record,
        cluster: Cluster,
        *,
        actor: str | None = None,
        clock: Callable[[], datetime] | None = None,
        drill: bool = False,
        record_thread: Executor | None = None,
    ) -> None:
        self.record = record
        self.cluster = cluster
        self.actor = actor
        self.clock = clock or record.clock
        self.drill = drill
        # One thread for every record call of this handle: in order, never two at once. The
        # console passes its runtime's (actions.runtime), which it closes; else one of its own.
        self._record_thread = record_thread or ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="runbook-record"
        )

    async def in_record(self, call: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """Run a record read or write on the action layer's record thread, off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._record_thread, functools.partial(call, *args, **kwargs)
        )

    async def _in_record_to_the_end(
        self, call: Callable[..., R], /, *args: Any, **kwargs: Any
    ) -> R:
        """Like `in_record`, but a cancelled caller does not stop the write half-way queued."""
        return await asyncio.shield(self.in_record(call, *args, **kwargs))

    # ----- preview -------------------------------------------------------------------------

    async def preview(self, request: ActionRequest) -> ActionPreview:
        """The exact changes, dry-run by the server, with permissions; changes nothing."""
        validate_request(request)
        incident_id, opens, problems, notes = await self.in_record(
            self._resolve_incident, request.incident_id
        )
        now = self.clock()
        context = PlanContext(
            self.cluster,
            self.record,
            request,
            incident_id or PENDING_INCIDENT,
            now,
            run_in_record=self.in_record,
        )
        plan = Plan()
        if not problems:
            try:
                plan = await _planners()[request.action](context)
            except ClusterError as error:
                plan.problems.append(Problem(error.cause, error.message))
        problems += plan.problems
        preview = ActionPreview(
            request=request,
            incident_id=incident_id,
            opens_incident=opens,
            changes=plan.changes,
            permissions=[],
            notes=notes + plan.notes,
            problems=problems,
            no_op=plan.no_op,
            cluster=self.cluster.describe(),
            at=now,
            intent_data=plan.intent_data,
            pieces=plan.pieces,
        )
        if preview.problems or (preview.no_op and not plan.reads):
            return preview
        await self._dry_run(preview)
        await self._check_permissions(preview, plan.reads)
        return preview

    def _resolve_incident(
        self, wanted: str | None
    ) -> tuple[str | None, bool, list[Problem], list[str]]:
        """(incident ID, whether execute opens a new one, problems, notes). Reads the record."""
        if wanted is not None:
            incident = self.record.incidents.get(wanted)
            if incident is None:
                raise InvalidRequest(f"no incident {wanted} in {self.record.path}")
            notes = [f"incident {wanted} is closed: the action is recorded in it all the same"]
            return wanted, False, [], notes if incident.status == "closed" else []
        open_ones: list[Incident] = self.record.incidents.open_ones()
        if len(open_ones) == 1:
            return open_ones[0].id, False, [], []
        why = (
            "no incident is open"
            if not open_ones
            else f"{len(open_ones)} incidents are open ({', '.join(i.id for i in open_ones)}); "
            "pass --incident to choose"
        )
        return None, True, [], [f"{why}: executing opens a new incident for this action"]

    async def _dry_run(self, preview: ActionPreview) -> None:
        for change in preview.changes:
            try:
                change.dry_run = await self._send(change, dry_run=True)
            except ClusterError as error:
                change.dry_run_error = error.message
                preview.problems.append(Problem(error.cause, error.message))

    async def _check_permissions(
        self, preview: ActionPreview, reads: list[tuple[str, str, str, str | None, str]]
    ) -> None:
        wanted: list[tuple[str, str, str, str | None, str | None, str | None]] = []
        for change in preview.changes:
            kind = kind_of(change.api_version, change.kind)
            name = None if change.verb == "create" else change.name
            wanted.append((change.verb, kind.group, kind.plural, change.namespace, name, None))
            wanted.append(("get", kind.group, kind.plural, change.namespace, change.name, None))
        for read_verb, read_group, read_resource, read_sub, read_ns in reads:
            wanted.append((read_verb, read_group, read_resource, read_ns, None, read_sub))
        seen: set[tuple[Any, ...]] = set()
        for item in wanted:
            if item in seen:
                continue
            seen.add(item)
            verb, group, resource, namespace, name, subresource = item
            try:
                allowed, reason = await self.cluster.can_i(
                    verb, group, resource, namespace, name, subresource
                )
            except ClusterError as error:
                preview.problems.append(Problem(error.cause, error.message))
                return
            check = PermissionCheck(
                verb, group, resource, namespace, name, allowed, reason, subresource
            )
            preview.permissions.append(check)
            if not allowed and preview.request.action == "capture":
                # A capture keeps what it may read: a denied piece fails alone.
                preview.notes.append(f"may not {check.describe()}: that piece will be missing")
            elif not allowed:
                preview.problems.append(
                    Problem(
                        "forbidden",
                        f"forbidden: you may not {check.describe()}"
                        + (f" ({reason})" if reason else ""),
                    )
                )

    # ----- execute -------------------------------------------------------------------------

    async def execute(
        self, preview: ActionPreview, *, progress: ProgressSink | None = None
    ) -> ActionOutcome:
        """Record the intent, apply the preview's changes, verify, record the outcome.

        A preview runs once: preview again to retry (names carry the time, the dry run
        and the permission checks are redone).
        """
        if preview.executed:
            raise RuntimeError("this preview was already executed: preview again to retry")
        preview.executed = True
        started = time.perf_counter()
        request = preview.request
        incident_id, opened = await self._in_record_to_the_end(self._incident_for, preview)
        if opened:
            _substitute(preview, incident_id)
        # Committed before the first cluster call: a crash after it leaves "unknown".
        action_id = await self._in_record_to_the_end(
            self.record.actions.intent,
            incident_id,
            request.action,
            request.target,
            params=request.to_dict(),
            actor=self.actor,
            context=self.cluster.context,
            data={
                **preview.intent_data,
                "planned": [c.ref() for c in preview.changes],
                "cluster": self.cluster.describe(),
            },
        )
        outcome = ActionOutcome(
            request.action,
            request.target,
            "unknown",
            "",
            incident_id,
            action_id,
            opened_incident=opened,
        )
        try:
            if preview.problems:
                first = preview.problems[0]
                others = len(preview.problems) - 1
                more = f" (and {others} more)" if others else ""
                outcome.status, outcome.cause = "failed", first.cause
                outcome.message = f"not applied: {first.message}{more}"
            elif preview.no_op:
                outcome.status, outcome.message = "no-op", preview.no_op
            elif request.action == "capture":
                from actions.runbook import capture

                await capture.run(self, preview, outcome, progress)
            else:
                await self._apply(preview, outcome)
        finally:
            outcome.duration_ms = (time.perf_counter() - started) * 1000
            if outcome.status == "unknown" and not outcome.message:
                outcome.message = "interrupted before the outcome was known"
            # Shielded: an interrupted execute still records how far it got.
            await self._in_record_to_the_end(
                self.record.actions.outcome,
                action_id,
                outcome.status,
                outcome.message,
                data=_outcome_data(outcome),
                actor=self.actor,
            )
        if outcome.status == "succeeded":
            await self._in_record_to_the_end(self._advance_incident, request.action, incident_id)
            # The items it proves tick now, citing it (once: a ticked item is left alone).
            await self._in_record_to_the_end(tick_proven, self.record, incident_id)
        return outcome

    def _incident_for(self, preview: ActionPreview) -> tuple[str, bool]:
        if preview.incident_id is not None:
            return preview.incident_id, False
        request = preview.request
        target = f" {request.target}" if request.target else ""
        incident = self.record.incidents.open(
            f"{request.action}{target} (opened by the action)",
            severity=NEW_INCIDENT_SEVERITY.get(request.action, "P1"),
            drill=self.drill,
            actor=self.actor,
            namespace=request.namespace,
            cluster_context=self.cluster.context,
        )
        return incident.id, True

    async def _apply(self, preview: ActionPreview, outcome: ActionOutcome) -> None:
        for change in preview.changes:
            try:
                answer = await self._send(change, dry_run=False)
            except ClusterError as error:
                outcome.status, outcome.cause = "failed", error.cause
                message = error.message
                if error.cause == "invalid" and "test failed" in message:
                    # Our JSON patches test the value they previewed before changing it.
                    outcome.cause = "conflict"
                    message = (
                        f"{change.kind} {change.name} changed since the preview "
                        f"(preview again): {message}"
                    )
                if outcome.applied:
                    message += (
                        f" ({len(outcome.applied)} of {counted(len(preview.changes), 'change')} "
                        "were applied first)"
                    )
                elif error.cause != "timeout":
                    message += " (nothing was changed)"
                outcome.message = message
                return
            outcome.applied.append(
                {
                    **change.ref(),
                    "verb": change.verb,
                    **change.records,
                    "uid": (answer or {}).get("metadata", {}).get("uid")
                    if isinstance(answer, dict)
                    else None,
                }
            )
        problems = []
        for change in preview.changes:
            try:
                problem = await self._verify(change)
            except ClusterError as error:
                problem = error.message
            if problem:
                problems.append(problem)
        if problems:
            outcome.status, outcome.cause = "failed", "verification"
            outcome.message = "applied, but reading back found: " + "; ".join(problems)
            return
        outcome.status, outcome.verified = "succeeded", True
        outcome.message = "; ".join(c.summary for c in preview.changes) + " (verified)"

    async def _send(self, change: Change, *, dry_run: bool) -> Any:
        kind = kind_of(change.api_version, change.kind)
        if change.verb == "create":
            return await self.cluster.create(change.body, dry_run=dry_run)
        if change.verb == "patch":
            return await self.cluster.patch(
                kind,
                change.name,
                change.body,
                patch_type=str(change.patch_type),
                namespace=change.namespace,
                dry_run=dry_run,
            )
        if change.verb == "delete":
            return await self.cluster.delete(
                kind, change.name, namespace=change.namespace, dry_run=dry_run, uid=change.uid
            )
        raise ValueError(f"unknown change verb {change.verb}")

    async def _verify(self, change: Change) -> str | None:
        kind: Kind = kind_of(change.api_version, change.kind)
        found = await self.cluster.get_or_none(kind, change.name, change.namespace)
        what = kind.describe(change.name, change.namespace)
        if change.verb == "delete":
            if found is not None and not found.get("metadata", {}).get("deletionTimestamp"):
                return f"{what} still exists"
        elif found is None:
            return f"{what} is missing"
        elif change.verb == "create":
            # The server may add defaults; everything that was sent must be there as sent.
            if not _contains(found.get("spec"), change.body.get("spec")):
                return f"{what} does not hold the spec that was sent"
            labels = (change.body.get("metadata") or {}).get("labels")
            if not _contains((found.get("metadata") or {}).get("labels"), labels):
                return f"{what} lost the labels restore needs to find it"
        return change.check(found) if change.check else None

    def _advance_incident(self, action: str, incident_id: str) -> None:
        incident = self.record.incidents.get_required(incident_id)
        now = self.clock()
        changes: dict[str, Any] = {}
        if action in CONTAINMENT:
            if incident.contained_at is None:
                changes["contained_at"] = now
            if incident.status == "open":
                changes["status"] = "contained"
            if incident.phase == "detection":
                changes["phase"] = "containment"
        elif action in ("rotate-sa", "reapply-policies") and incident.phase in (
            "detection",
            "containment",
        ):
            # Past Containment is contained (store.incidents.phase_changes): a misconfiguration
            # put right by re-applying the policies went from Detection to Eradication, and its
            # MTTC ran on until someone pressed p in Recovery.
            changes.update(phase_changes(incident, "eradication", now))
        elif action == "restore":
            if incident.recovered_at is None:
                changes["recovered_at"] = now
            if incident.status in ("open", "contained"):
                changes["status"] = "recovered"
            if incident.phase != "lessons-learned":
                changes["phase"] = "recovery"
        if changes:
            self.record.incidents.update(incident_id, actor=self.actor, **changes)


def _contains(stored: Any, sent: Any) -> bool:
    """Whether `stored` holds everything in `sent` (dicts may have more keys, lists not)."""
    if isinstance(sent, dict):
        return isinstance(stored, dict) and all(
            key in stored and _contains(stored[key], value) for key, value in sent.items()
        )
    if isinstance(sent, list):
        return (
            isinstance(stored, list)
            and len(stored) == len(sent)
            and all(_contains(a, b) for a, b in zip(stored, sent, strict=True))
        )
    return bool(stored == sent)


def _outcome_data(outcome: ActionOutcome) -> dict[str, Any]:
    data = dict(outcome.data)
    if outcome.applied:
        data["applied"] = outcome.applied
    if outcome.cause:
        data["cause"] = outcome.cause
    if outcome.evidence:
        data["evidence"] = outcome.evidence
    data["duration_ms"] = round(outcome.duration_ms, 1)
    return data


def _substitute(preview: ActionPreview, incident_id: str) -> None:
    """Put the new incident's ID where the preview had the placeholder."""
    preview.incident_id = incident_id
    for change in preview.changes:
        change.body = _replaced(change.body, incident_id)
        change.summary = change.summary.replace(PENDING_INCIDENT, incident_id)
    preview.intent_data = _replaced(preview.intent_data, incident_id)


def _replaced(value: Any, incident_id: str) -> Any:
    if isinstance(value, dict):
        return {k: _replaced(v, incident_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v, incident_id) for v in value]
    if value == PENDING_INCIDENT:
        return incident_id
    return copy.deepcopy(value)


__all__ = ["InvalidRequest", "Plan", "PlanContext", "RunbookActions", "replace", "validate_request"]
