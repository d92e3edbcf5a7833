"""The schemas shipped in actions/drill/schemas, and the examples copied into tests/fixtures, are
exactly shared/schemas (where that exists); the shipped copy judges the examples rightly.

`shared/` sits beside the developers' and CI's checkouts, never in a user's clone: there
the copies cannot be compared, and those two checks skip with that reason. The examples
themselves are checked everywhere, from the copy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.drill import schemas

SHARED = Path(__file__).resolve().parents[2] / "shared" / "schemas"
PACKAGE = Path(schemas.__file__).resolve().parent
EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "schema_examples"


needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"{SHARED} is absent (a user's clone): no original to compare")


@needs_shared
def test_every_schema_is_copied_byte_for_byte() -> None:
    shared = sorted(p.name for p in SHARED.glob("*.json"))
    packaged = sorted(p.name for p in PACKAGE.glob("*.json"))
    assert packaged == shared
    for name in shared:
        assert (PACKAGE / name).read_bytes() == (SHARED / name).read_bytes(), name


@needs_shared
def test_the_examples_are_copied_byte_for_byte() -> None:
    shared = sorted(p.relative_to(SHARED / "examples") for p in SHARED.glob("examples/*/*"))
    copied = sorted(p.relative_to(EXAMPLES) for p in EXAMPLES.glob("*/*"))
    assert copied == shared
    for name in shared:
        assert (EXAMPLES / name).read_bytes() == (SHARED / "examples" / name).read_bytes(), name


def _documents(path: Path) -> list[dict[str, object]]:
    import json

    import yaml

    text = path.read_text(encoding="utf-8")
    docs = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
    return [item for doc in docs if doc is not None
            for item in (doc if isinstance(doc, list) else [doc])]


@pytest.mark.parametrize("path", sorted((EXAMPLES / "good").glob("*")), ids=lambda p: p.name)
def test_good_examples_pass_check_document(path: Path) -> None:
    for item in _documents(path):
        assert schemas.check_document(item) == []


@pytest.mark.parametrize("path", sorted((EXAMPLES / "bad").glob("*")), ids=lambda p: p.name)
def test_bad_examples_are_refused(path: Path) -> None:
    import yaml

    try:
        documents = _documents(path)
    except yaml.YAMLError:
        return  # refused before any schema: the API server answers 400 for those
    assert any(schemas.check_document(item) for item in documents), path.name


def test_there_are_examples_of_both_kinds() -> None:
    assert len(list((EXAMPLES / "good").glob("*"))) >= 4
    assert len(list((EXAMPLES / "bad").glob("*"))) >= 7


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
