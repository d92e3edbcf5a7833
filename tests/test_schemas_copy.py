"""The shipped schemas (actions/drill/schemas) judge the copied examples rightly.

That both are byte-for-byte copies of the team's reference schemas is checked by
`.ci/shared_copies.py` in CI, beside the checkouts that have the team's folder: a user's
clone has none, and the suite reads nothing outside the repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.drill import schemas

PACKAGE = Path(schemas.__file__).resolve().parent
EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "schema_examples"


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
