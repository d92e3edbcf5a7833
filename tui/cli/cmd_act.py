"""`warroom act ACTION ARGS`: one runbook action, previewed, confirmed, recorded.

    act isolate SERVICE | block-ip IP | disable-sa NAME | mesh-deny SERVICE
        | rotate-sa NAME | capture | restore | reapply-policies [--file PATH]
        [--incident ID] [--dry-run] [--yes] [--json] [--context] [--kubeconfig] [--namespace]

`--dry-run` shows the preview (the exact manifest or patch, the server's dry
run, the permission checks) and stops: nothing changes in the cluster and
nothing is recorded, not even the preview, and no incident is opened.
Otherwise the action asks "Apply? [y/N]" on a terminal, needs `--yes` when
there is none (exit 2 without it), and always leaves an intent and an
outcome in the record, including for an attempt the preview already showed
would fail (forbidden, missing object, unreachable cluster). An action that
has nothing to do (already blocked) is recorded as a no-op without asking.

Which incident, without `--incident`: the one open incident of the cluster's
kind (a drill incident on warroom's drill cluster, a real one elsewhere:
`is_drill_cluster`). With several open, or only ones of the other kind, it
refuses (exit 2) and names them, rather than open yet another or mix a drill
into a real incident; with none open, executing opens one, a drill's from its
first entry on the drill cluster. So `act restore` finds what the earlier
actions did. An incident row no warroom writes is skipped and said on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import sys
from pathlib import Path
from typing import Any

from store.wording import counted, noun_of
from tui.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    open_record,
    print_json,
    read_settings,
    warn_unreadable,
)
from tui.safe import safe_text

MESHES = ("auto", "istio", "linkerd")
# The context `warroom drill` names in the kubeconfig it writes (actions/drill/kubeconfig.py).
DRILL_CONTEXT = "warroom-drill"
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
DURATION = re.compile(r"(\d+)([smhd]?)")
SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """--context, --kubeconfig, --namespace, --timeout: kubectl's meaning and precedence."""
    group = parser.add_argument_group("cluster options")
    group.add_argument("--context", metavar="NAME", help="kubeconfig context (default: current)")
    group.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else "
        "the in-cluster service account)",
    )
    group.add_argument(
        "-n", "--namespace", metavar="NS", help="namespace (default: the context's, else voicehive)"
    )
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=10.0,
        help="give up on a cluster call after this long (default 10)",
    )


def _duration(text: str) -> int:
    match = DURATION.fullmatch(text.strip())
    if not match or int(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 90s, 30m or 1h")
    return int(match.group(1)) * SECONDS[match.group(2)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--incident",
        metavar="ID",
        help="attach to this incident (default: the one open incident, else a new one)",
    )
    common.add_argument(
        "--dry-run",
        action="store_true",
        help="show the preview and stop: change nothing, record nothing",
    )
    common.add_argument("-y", "--yes", action="store_true", help="apply without asking")
    common.add_argument(
        "--json",
        action="store_true",
        help="print the preview (--dry-run) or the outcome as one JSON document",
    )
    add_cluster_options(common)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        return actions.add_parser(name, help=help_text, description=help_text, parents=[common])

    isolate = action("isolate", "deny all ingress and egress of app=SERVICE (NetworkPolicy)")
    isolate.add_argument("target", metavar="SERVICE")
    isolate.add_argument(
        "--force",
        action="store_true",
        help="isolate even when no pod runs the app now (the deny-all waits for its pods)",
    )
    block = action("block-ip", "add IP to external-api-segmentation's egress except list")
    block.add_argument(
        "target", metavar="IP", help="address or CIDR (a bare address is /32 or /128)"
    )
    block.add_argument(
        "--force",
        action="store_true",
        help="block even loopback, link-local or the cluster's own ranges",
    )
    block.add_argument(
        "--emergency-egress",
        action="store_true",
        help="instead, create a dedicated emergency egress policy",
    )
    block.add_argument(
        "--service",
        metavar="APP",
        help="with --emergency-egress: only pods with app=APP (default: all)",
    )
    block.add_argument(
        "--protect",
        metavar="CIDR",
        action="append",
        default=[],
        help="a cluster range never to block without --force (repeatable)",
    )
    disable = action(
        "disable-sa",
        "disable a service account (annotation, no token automount, token secrets deleted)",
    )
    disable.add_argument("target", metavar="NAME")
    mesh = action("mesh-deny", "deny all mesh traffic to app=SERVICE (Istio or Linkerd)")
    mesh.add_argument("target", metavar="SERVICE")
    mesh.add_argument(
        "--mesh",
        choices=MESHES,
        help="which mesh (default: the configured mesh.provider, else detected)",
    )
    rotate = action("rotate-sa", "delete a service account's token secrets")
    rotate.add_argument("target", metavar="NAME")
    capture = action("capture", "store the runbook's evidence bundle in the record")
    capture.add_argument("--service", metavar="APP", help="also the logs of app=APP pods")
    capture.add_argument(
        "--domain", metavar="DOMAIN", help="keep only CoreDNS log lines naming this domain"
    )
    capture.add_argument(
        "--since",
        metavar="DURATION",
        type=_duration,
        default=3600,
        help="CoreDNS log window, e.g. 30m or 1h (default 1h)",
    )
    restore = action(
        "restore", "remove this incident's emergency objects, re-enable its service accounts"
    )
    restore.add_argument(
        "--unblock", action="store_true", help="also remove the IPs this incident blocked"
    )
    restore.add_argument(
        "--undo-reapply",
        action="store_true",
        help="also put back the policies reapply-policies changed, as they were before",
    )
    reapply = action(
        "reapply-policies",
        "apply the desired-state NetworkPolicies again (the runbook's corrected policies)",
    )
    reapply.add_argument(
        "--file",
        metavar="PATH",
        help="the desired-state file (default: the configuration's [policies] desired_state_file)",
    )


def load_settings(args: argparse.Namespace) -> Any:
    """The configuration file's settings: `common.read_settings`, the one reader."""
    return read_settings(args)


def cluster_options(args: argparse.Namespace, settings: Any) -> Any:
    """Flags first, then the configuration, then kubectl's own defaults."""
    from actions.kube.cluster import ClusterOptions

    configured = settings.cluster
    return ClusterOptions(
        context=args.context or configured.context,
        kubeconfig=args.kubeconfig
        or (str(configured.kubeconfig) if configured.kubeconfig else None),
        namespace=args.namespace,
        timeout=args.timeout,
        default_namespace=configured.namespace,
    )


def _mesh(args: argparse.Namespace, settings: Any) -> str:
    if getattr(args, "mesh", None):
        return str(args.mesh)
    provider = settings.mesh.provider
    if provider == "none" and args.action == "mesh-deny":
        raise UsageError(
            "the configuration says there is no service mesh (mesh.provider = "
            '"none"); pass --mesh istio or --mesh linkerd'
        )
    return provider if provider in MESHES else "auto"


def is_drill_cluster(cluster: Any) -> bool:
    """Whether `cluster` is warroom's drill cluster: the kubeconfig context `warroom drill`
    writes (`warroom-drill`), served on this machine's loopback, or, for a team drill on
    another machine (`warroom drill --listen`), trusted through a CA that drill made for
    itself (`actions.drill.tls.is_drill_ca`). A real cluster reached through a context of
    that name on 127.0.0.1 counts as a drill too (README: so do not name one so)."""
    from urllib.parse import urlsplit

    if cluster.context != DRILL_CONTEXT:
        return False
    host = urlsplit(str(cluster.server or "")).hostname or ""
    return host in LOOPBACK_HOSTS or _trusts_a_drill_ca(cluster)


def kubeconfig_is_the_drill() -> bool:
    """Whether the cluster kubectl would use now ($KUBECONFIG, else ~/.kube/config, its
    current context) is warroom's drill cluster (`is_drill_cluster`), for a command with no
    cluster options (`incidents open`). Reads the files only, never the network."""
    from actions.kube.cluster import ClusterError, ClusterOptions, connect, kubeconfig_paths

    files = [Path(p).expanduser() for p in kubeconfig_paths(ClusterOptions())]
    try:
        # Only a context of that name can be the drill's: most calls stop here, before the
        # kubernetes client's half-second import.
        if not any(f.is_file() and DRILL_CONTEXT in f.read_text("utf-8", "replace")
                   for f in files):
            return False
    except OSError:
        return False

    async def check() -> bool:
        try:
            cluster = await connect(ClusterOptions())
        except ClusterError:
            return False
        async with cluster:
            return is_drill_cluster(cluster)

    return asyncio.run(check())


def _trusts_a_drill_ca(cluster: Any) -> bool:
    from actions.drill.tls import is_drill_ca

    configuration = getattr(getattr(cluster, "client", None), "configuration", None)
    ca_file = getattr(configuration, "ssl_ca_cert", None)
    if not ca_file:
        return False
    try:
        return is_drill_ca(Path(ca_file).read_bytes())
    except OSError:
        return False


def _incident(args: argparse.Namespace, record: Any, drill: bool) -> str | None:
    """The incident the action is for (None: executing opens one); refuses what is ambiguous."""
    from store.incidents import SessionScope

    if args.incident is not None:
        return str(args.incident)
    kind = "drill" if drill else "real"
    ours = record.incidents.in_scope(SessionScope(drill=drill))
    if len(ours) == 1:
        return str(ours[0].id)
    if ours:
        raise UsageError(
            f"{counted(len(ours), kind + ' incident')} {noun_of(len(ours), 'is')} open "
            f"({', '.join(i.id for i in ours)}): pass "
            "--incident ID, or close those that are over with `warroom incidents close ID "
            "--resolution TEXT`"
        )
    others = record.incidents.open_ones()
    if others:
        cluster = "warroom's drill cluster" if drill else "a real cluster"
        raise UsageError(
            f"this is {cluster}, and the open incidents ({', '.join(i.id for i in others)}) "
            f"are not {kind} incidents: pass --incident ID to record it there anyway, or open "
            f"a {kind} incident first (`warroom incidents open TITLE"
            f"{' --drill' if drill else ''}`)"
        )
    return None


def _request(
    args: argparse.Namespace, namespace: str, settings: Any, incident_id: str | None
) -> Any:
    from actions.runbook import ActionRequest

    prometheus = settings.prometheus
    return ActionRequest(
        action=args.action,
        target=getattr(args, "target", None),
        namespace=namespace,
        incident_id=incident_id,
        actor=_actor(),
        force=getattr(args, "force", False),
        emergency_egress=getattr(args, "emergency_egress", False),
        protected_cidrs=tuple(getattr(args, "protect", [])),
        service=getattr(args, "service", None),
        mesh=_mesh(args, settings),
        domain=getattr(args, "domain", None),
        since_seconds=getattr(args, "since", 3600),
        unblock=getattr(args, "unblock", False),
        undo_reapply=getattr(args, "undo_reapply", False),
        desired_state_file=str(getattr(args, "file", None) or settings.policies.desired_state_file),
        falco_namespace=settings.falco.namespace,
        falco_selector=settings.falco.selector,
        prometheus_service=(prometheus.namespace, prometheus.service, prometheus.port),
        prometheus_url=prometheus.url,
    )


def _actor() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from actions.kube.cluster import ClusterError, connect
    from actions.runbook import InvalidRequest, RunbookActions

    settings = load_settings(args)
    try:
        cluster = await connect(cluster_options(args, settings))
    except ClusterError as error:
        raise UsageError(str(error)) from error
    drill = is_drill_cluster(cluster)
    async with cluster:
        with open_record(args) as record:
            actions = RunbookActions(record, cluster, actor=_actor(), drill=drill)
            try:
                incident_id = _incident(args, record, drill)
            finally:
                warn_unreadable("act", record)  # also when they leave it ambiguous
            request = _request(args, cluster.namespace, settings, incident_id)
            try:
                preview = await actions.preview(request)
            except InvalidRequest as error:
                raise UsageError(str(error)) from error
            if args.dry_run:
                _show_preview(preview, args.json, sys.stdout)
                return EXIT_OK if preview.ok else EXIT_FAILED
            if preview.ok and not preview.no_op and not args.yes:
                answer = _confirm(preview, args.json)
                if answer is None:
                    return EXIT_USAGE
                if not answer:
                    print("not applied: nothing changed, nothing recorded", file=sys.stderr)
                    return EXIT_FAILED
            elif not args.json and not args.yes:
                _show_preview(preview, False, sys.stderr)
            outcome = await actions.execute(preview, progress=None if args.json else _progress)
    if outcome.opened_incident:
        kind = "drill incident" if drill else "incident"
        print(safe_text(f"opened {kind} {outcome.incident_id} for this action"), file=sys.stderr)
    if args.json:
        print_json(outcome.to_dict())
    else:
        _show_outcome(outcome)
    return EXIT_OK if outcome.ok else EXIT_FAILED


def _confirm(preview: Any, as_json: bool) -> bool | None:
    """Ask on the terminal; None when there is no terminal to ask on."""
    if not sys.stdin.isatty():
        print(
            "warroom act: refusing to change the cluster without confirmation: no terminal "
            "to ask on; pass --yes to apply, or --dry-run to preview",
            file=sys.stderr,
        )
        return None
    _show_preview(preview, False, sys.stderr)
    print("Apply? [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        reply = sys.stdin.readline()
    except KeyboardInterrupt:
        return False
    return reply.strip().lower() in ("y", "yes")


def _progress(progress: Any) -> None:
    line = f"[{progress.index}/{progress.total}] {progress.piece}: {progress.state}"
    if progress.state == "stored":
        line += f" ({progress.size} bytes, sha256 {progress.sha256[:12]}...)"
    elif progress.message:
        line += f": {progress.message}"
    print(safe_text(line), file=sys.stderr)


def _indent(text: str, prefix: str = "      ") -> str:
    return "".join(f"{prefix}{safe_text(line)}\n" for line in text.splitlines())


def _show_preview(preview: Any, as_json: bool, out: Any) -> None:
    if as_json:
        print_json(preview.to_dict())
        return
    request, cluster = preview.request, preview.cluster
    target = f" {request.target}" if request.target else ""
    print(
        safe_text(
            f"{request.action}{target} in {request.namespace} "
            f"(context {cluster.get('context')}, {cluster.get('server')})"
        ),
        file=out,
    )
    incident = (
        f"incident {preview.incident_id}"
        if preview.incident_id
        else "a new incident (opened on apply)"
    )
    print(safe_text(f"  for {incident}"), file=out)
    if preview.no_op:
        print(safe_text(f"  nothing to do: {preview.no_op}"), file=out)

    for change in preview.changes:
        where = f" in {change.namespace}" if change.namespace else ""
        print(safe_text(f"  {change.verb} {change.kind} {change.name}{where}"), file=out)
        print(_indent(change.sent_yaml().rstrip()), end="", file=out)
        if change.dry_run is not None:
            print("      server dry run: accepted", file=out)
        elif change.dry_run_error:
            print(safe_text(f"      server dry run: {change.dry_run_error}"), file=out)
    if preview.pieces:
        print(safe_text("  evidence to capture: " + ", ".join(preview.pieces)), file=out)
    denied = [p for p in preview.permissions if not p.allowed]
    if preview.permissions:
        print(
            f"  permissions: {len(preview.permissions) - len(denied)} of "
            f"{len(preview.permissions)} allowed",
            file=out,
        )
    for note in preview.notes:
        print(safe_text(f"  note: {note}"), file=out)
    for problem in preview.problems:
        print(safe_text(f"  PROBLEM ({problem.cause}): {problem.message}"), file=out)


def _show_outcome(outcome: Any) -> None:
    stream = sys.stdout if outcome.ok else sys.stderr
    target = f" {outcome.target}" if outcome.target else ""
    print(safe_text(f"{outcome.action}{target}: {outcome.status}: {outcome.message}"), file=stream)
    print(safe_text(f"recorded in {outcome.incident_id} (action {outcome.action_id})"), file=stream)
