"""`warroom status [--json] [cluster options]`: the runbook's check-mesh-status.sh.

Mesh sync (istiod's syncz through the API service proxy, istioctl or
`linkerd check` when installed), the namespace's NetworkPolicies and its last
Warning events. Exit 0 when all is well, 1 when something is out of sync or
could not be read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from tui.cli.cmd_act import add_cluster_options, cluster_options, load_settings
from tui.cli.common import EXIT_FAILED, EXIT_OK, UsageError, print_json
from tui.safe import safe_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    add_cluster_options(parser)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from actions.kube.cluster import ClusterError, connect
    from actions.runbook.status import mesh_status

    settings = load_settings(args)
    options = cluster_options(args, settings)
    try:
        cluster = await connect(options)
    except ClusterError as error:
        raise UsageError(str(error)) from error
    async with cluster:
        try:
            status = await mesh_status(
                cluster, kubeconfig=options.kubeconfig, mesh=settings.mesh.provider
            )
        except ClusterError as error:
            if args.json:
                print_json({"ok": False, "error": {"cause": error.cause, "message": error.message}})
            else:
                print(f"warroom status: {safe_text(error.message)}", file=sys.stderr)
            return EXIT_FAILED
    if args.json:
        print_json(status.to_dict())
    else:
        _show(status)
    return EXIT_OK if status.ok else EXIT_FAILED


def _table(rows: list[list[str]], out: Any) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        print(safe_text("   ".join(cells).rstrip()), file=out)


def _show(status: Any) -> None:
    out = sys.stdout
    print("=== Service Mesh Status Check ===", file=out)
    print(safe_text(f"mesh: {status.mesh or 'none detected'} ({status.mesh_detail})"), file=out)
    if status.proxies:
        order = ["CDS", "LDS", "EDS", "RDS", "ECDS"]
        types = sorted(
            {t for p in status.proxies for t in p.statuses},
            key=lambda t: (order.index(t) if t in order else len(order), t),
        )
        rows = [["NAME", "CLUSTER", *types, "VERSION"]]
        rows += [
            [p.name, p.cluster, *[p.statuses.get(t, "") for t in types], p.version]
            for p in status.proxies
        ]
        _table(rows, out)
    elif status.mesh == "istio" and status.istioctl_output is None:
        print("no proxy status", file=out)
    if status.istioctl_output and not status.proxies:
        print(safe_text(status.istioctl_output, multiline=True), end="", file=out)
    for document in status.linkerd_checks:
        print(safe_text(json.dumps(document, indent=2), multiline=True), file=out)
    print(safe_text(f"=== Network Policies ({status.namespace}) ==="), file=out)
    if status.policies:
        rows = [["NAME", "POD-SELECTOR", "TYPES", "EMERGENCY"]]
        for policy in status.policies:
            rows.append([policy.name, policy.selector or "<all pods>",
                         ",".join(policy.policy_types), policy.emergency_text])
        _table(rows, out)
    else:
        print("no NetworkPolicies", file=out)
    print("=== Recent Security Events ===", file=out)
    if status.warnings:
        rows = [["LAST SEEN", "OBJECT", "REASON", "MESSAGE"]]
        rows += [[w.last_seen, w.object, w.reason, w.message] for w in status.warnings]
        _table(rows, out)
    else:
        print("no Warning events", file=out)
    for problem in status.problems:
        print(safe_text(f"PROBLEM: {problem}"), file=sys.stderr)
