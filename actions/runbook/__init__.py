"""The runbook's containment, eradication and recovery actions, safe and recorded.

    actions = RunbookActions(record, cluster, actor="alice")
    preview = await actions.preview(ActionRequest("isolate", "orchestrator"))
    if confirmed:
        outcome = await actions.execute(preview)

No Textual here: the console and `warroom act` share this layer.
"""

from actions.runbook.checks import InvalidRequest
from actions.runbook.model import (
    ACTIONS,
    MESHES,
    ActionOutcome,
    ActionPreview,
    ActionRequest,
    CaptureProgress,
    Change,
    PermissionCheck,
    Problem,
)
from actions.runbook.pipeline import RunbookActions, validate_request

__all__ = [
    "ACTIONS",
    "MESHES",
    "ActionOutcome",
    "ActionPreview",
    "ActionRequest",
    "CaptureProgress",
    "Change",
    "InvalidRequest",
    "PermissionCheck",
    "Problem",
    "RunbookActions",
    "validate_request",
]
