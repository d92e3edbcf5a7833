"""A batch prepared in a worker process comes back to the follower as it was prepared."""

from __future__ import annotations

import pickle

from hypothesis import given

from actions.falco.prepare import prepare_lines
from tests.test_ingest_properties import CLASSIFIER, SETTINGS, falco_lines


@SETTINGS
@given(lines=falco_lines)
def test_alerts_rebuilt_from_their_rows_equal_the_alerts_prepared(lines: list[bytes]) -> None:
    """The alerts cross from the worker as what their rows lack (PreparedLines.__reduce__):
    every field of every alert, odd times, numbers and hostile text included, must come back
    equal, since the console shows them and the incident detector decides on them."""
    prepared = prepare_lines("falco-a", "falco:falco-system/falco-a", "NSI-2026-12-07-001",
                             list(enumerate(lines, 1)), "2026-12-07T00:00:00.000000+00:00",
                             CLASSIFIER)
    shipped = pickle.loads(pickle.dumps(prepared))
    assert shipped.alerts == prepared.alerts
    assert shipped.prepared.values == prepared.prepared.values
    assert shipped.prepared.hashes == prepared.prepared.hashes
    assert shipped.rejected_reasons == prepared.rejected_reasons
    assert shipped.pod == prepared.pod
