"""The three patch formats the API server accepts, applied to plain dicts.

- JSON patch (RFC 6902): add (with `-` appending), remove, replace, move, copy,
  test. Failures raise `PatchFailed` with evanphx/json-patch's wording, which
  the server turns into 422 (a bad document into 400).
- JSON merge patch (RFC 7386): objects merge, `null` deletes, lists replace.
- Strategic merge patch for built-in kinds: merge patch plus merge-by-key for
  the lists that carry a patch merge key in the Kubernetes types (containers,
  volumes, env, ports...), and the `$patch` / `$setElementOrder` /
  `$retainKeys` / `$deleteFromPrimitiveList` directives kubectl sends.
"""

from __future__ import annotations

import copy
from typing import Any

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# Patch merge keys of the built-in kinds we serve (k8s.io/api struct tags).
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "env": "name",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "tolerations": "key",
    "secrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
}
# `ports` merges on containerPort in containers and on port in a Service spec.
PORT_MERGE_KEYS = ("containerPort", "port")


class PatchFailed(Exception):
    """A patch that cannot be applied; `bad_request` marks a malformed patch document."""

    def __init__(self, message: str, *, bad_request: bool = False) -> None:
        super().__init__(message)
        self.bad_request = bad_request


# ----- JSON patch (RFC 6902) ------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchFailed(f'JSON pointer "{path}" must start with /', bad_request=False)
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _container(doc: Any, parts: list[str], op: str, path: str) -> tuple[Any, str]:
    """The parent of the target and the last key; raises if the parent is missing."""
    current = doc
    for part in parts[:-1]:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise PatchFailed(f"{op} operation does not apply: doc is missing path: {path}: "
                              "missing value")
    return current, parts[-1]


def _get(doc: Any, path: str, op: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent, key = _container(doc, parts, op, path)
    if isinstance(parent, dict) and key in parent:
        return parent[key]
    if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
        return parent[int(key)]
    raise PatchFailed(f"{op} operation does not apply: doc is missing key: {path}: "
                      "missing value")


def _add(doc: Any, path: str, value: Any, op: str = "add") -> Any:
    parts = _pointer(path)
    if not parts:
        return copy.deepcopy(value)
    parent, key = _container(doc, parts, op, path)
    if isinstance(parent, dict):
        parent[key] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if key == "-":
            parent.append(copy.deepcopy(value))
        elif key.isdigit() and int(key) <= len(parent):
            parent.insert(int(key), copy.deepcopy(value))
        else:
            raise PatchFailed(f"{op} operation does not apply: doc is missing path: {path}: "
                              "invalid index referenced")
    else:
        raise PatchFailed(f"{op} operation does not apply: doc is missing path: {path}: "
                          "missing value")
    return doc


def _remove(doc: Any, path: str, op: str = "remove") -> Any:
    parts = _pointer(path)
    if not parts:
        raise PatchFailed(f"{op} operation does not apply: cannot remove the whole document")
    parent, key = _container(doc, parts, op, path)
    if isinstance(parent, dict) and key in parent:
        del parent[key]
    elif isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
        del parent[int(key)]
    else:
        raise PatchFailed(f"{op} operation does not apply: doc is missing key: {path}: "
                          "missing value")
    return doc


def apply_json_patch(doc: dict[str, Any], operations: Any) -> dict[str, Any]:
    """Apply an RFC 6902 patch to a copy of doc and return it."""
    if not isinstance(operations, list):
        raise PatchFailed("json: cannot unmarshal object into Go value of type jsonpatch.Patch",
                          bad_request=True)
    result: Any = copy.deepcopy(doc)
    for operation in operations:
        if not isinstance(operation, dict) or not isinstance(operation.get("op"), str):
            raise PatchFailed("Unexpected kind: unknown", bad_request=True)
        op = operation["op"]
        path = operation.get("path")
        if not isinstance(path, str):
            raise PatchFailed(f"{op} operation does not apply: path is missing")
        if op in ("add", "replace", "test") and "value" not in operation:
            raise PatchFailed(f"{op} operation does not apply: value is missing")
        if op == "add":
            result = _add(result, path, operation["value"])
        elif op == "remove":
            result = _remove(result, path)
        elif op == "replace":
            _get(result, path, "replace")
            parts = _pointer(path)
            if not parts:
                result = copy.deepcopy(operation["value"])
            else:
                parent, key = _container(result, parts, "replace", path)
                if isinstance(parent, list):
                    parent[int(key)] = copy.deepcopy(operation["value"])
                else:
                    parent[key] = copy.deepcopy(operation["value"])
        elif op == "test":
            try:
                actual = _get(result, path, "test")
            except PatchFailed:
                actual = None
            if actual != operation["value"]:
                raise PatchFailed(f"testing value {path} failed: test failed")
        elif op in ("move", "copy"):
            source = operation.get("from")
            if not isinstance(source, str):
                raise PatchFailed(f"{op} operation does not apply: from is missing")
            value = copy.deepcopy(_get(result, source, op))
            if op == "move":
                result = _remove(result, source, op)
            result = _add(result, path, value, op)
        else:
            raise PatchFailed(f"Unexpected kind: {op}", bad_request=True)
    if not isinstance(result, dict):
        raise PatchFailed("the patched document is not an object")
    return result


# ----- JSON merge patch (RFC 7386) ------------------------------------------------------------


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


# ----- Strategic merge patch ------------------------------------------------------------------


def apply_strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge for built-in kinds: merge patch plus merge-by-key lists and directives."""
    if not isinstance(patch, dict):
        raise PatchFailed("json: cannot unmarshal array into Go value of type "
                          "map[string]interface {}", bad_request=True)
    return _strategic(target, patch)


def _strategic(target: Any, patch: dict[str, Any]) -> Any:
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            if key.startswith("$deleteFromPrimitiveList/"):
                field = key.split("/", 1)[1]
                if isinstance(result.get(field), list) and isinstance(value, list):
                    result[field] = [item for item in result[field] if item not in value]
            # $setElementOrder and $retainKeys only order or prune what the patch already says.
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = _strategic(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        for candidate in PORT_MERGE_KEYS:
            if items and all(isinstance(i, dict) and candidate in i for i in items):
                return candidate
        return None
    return MERGE_KEYS.get(field)


def _merge_list(field: str, current: Any, patch_items: list[Any]) -> list[Any]:
    merge_key = _merge_key(field, patch_items)
    if merge_key is None or not isinstance(current, list):
        return [copy.deepcopy(i) for i in patch_items
                if not (isinstance(i, dict) and i.get("$patch"))]
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch_items):
        return [copy.deepcopy(i) for i in patch_items
                if not (isinstance(i, dict) and i.get("$patch"))]
    result = [copy.deepcopy(i) for i in current]
    for item in patch_items:
        if not isinstance(item, dict) or merge_key not in item:
            result.append(copy.deepcopy(item))
            continue
        index = next((n for n, existing in enumerate(result)
                      if isinstance(existing, dict)
                      and existing.get(merge_key) == item[merge_key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append({k: copy.deepcopy(v) for k, v in item.items() if k != "$patch"})
        else:
            result[index] = _strategic(result[index], item)
    return result
