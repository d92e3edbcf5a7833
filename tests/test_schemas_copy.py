"""The schemas shipped in actions/schemas are exactly shared/schemas (where that exists)."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions import schemas

SHARED = Path(__file__).resolve().parents[2] / "shared" / "schemas"
PACKAGE = Path(schemas.__file__).resolve().parent


def test_shared_schemas_are_present() -> None:
    # shared/ exists on dev and CI machines; without it this check cannot be made.
    assert SHARED.is_dir(), f"{SHARED} is missing: the schema copy cannot be checked"


def test_every_schema_is_copied_byte_for_byte() -> None:
    shared = sorted(p.name for p in SHARED.glob("*.json"))
    packaged = sorted(p.name for p in PACKAGE.glob("*.json"))
    assert packaged == shared
    for name in shared:
        assert (PACKAGE / name).read_bytes() == (SHARED / name).read_bytes(), name


@pytest.mark.parametrize("path", sorted((SHARED / "examples" / "good").glob("*")),
                         ids=lambda p: p.name)
def test_good_examples_pass_check_document(path: Path) -> None:
    import json

    import yaml

    text = path.read_text(encoding="utf-8")
    docs = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
    for doc in (d for d in docs if d is not None):
        items = doc if isinstance(doc, list) else [doc]
        for item in items:
            assert schemas.check_document(item) == []


def test_check_document_names_the_field() -> None:
    bad = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": "egress-allowlist"},
           "spec": {"podSelector": {}, "egress": [{"to": [{"ipBlock": {
               "cidr": "0.0.0.0/0", "excpet": ["1.2.3.4/32"]}}]}]}}
    assert schemas.check_document(bad) == [
        "spec.egress[0].to[0].ipBlock: Additional properties are not allowed "
        "('excpet' was unexpected)"]
    assert schemas.check_document({"apiVersion": "v1", "kind": "Secret",
                                   "metadata": {"name": "s"}, "data": {"token": "plain text!"}}) \
        == ["data.token: 'plain text!' is not base64-encoded data"]
    assert schemas.check_document({"apiVersion": "../../etc", "kind": "passwd"})[0].startswith(
        "unknown kind")
