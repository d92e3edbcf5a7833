"""Kubernetes `Status` error objects, worded as the real API server words them.

kubectl prints `message` verbatim (`Error from server (NotFound): ...`) and the
official client exposes `reason`/`code`, so wording and reasons follow the
apimachinery `errors` package exactly.
"""

from __future__ import annotations

from typing import Any

from .resources import ResourceType


class ApiError(Exception):
    """An API failure carrying the Kubernetes Status dict the server answers with."""

    def __init__(self, status: dict[str, Any]) -> None:
        super().__init__(status.get("message", ""))
        self.status = status

    @property
    def code(self) -> int:
        return int(self.status.get("code", 500))

    @property
    def reason(self) -> str:
        return str(self.status.get("reason", ""))


def status_failure(code: int, reason: str, message: str,
                   details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A `Status` with status Failure; empty detail fields are omitted as in Go."""
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details:
        kept = {key: value for key, value in details.items() if value not in (None, "", [])}
        if kept:
            status["details"] = kept
    status["code"] = code
    return status


def status_success(resource: ResourceType, name: str, uid: str | None) -> dict[str, Any]:
    """The `Status` a DELETE answers with for kinds that do not return the object."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {key: value for key, value in
                    {"name": name, "group": resource.group, "kind": resource.plural,
                     "uid": uid}.items() if value},
    }


def error(code: int, reason: str, message: str, **details: Any) -> ApiError:
    """An ApiError for any code and reason."""
    return ApiError(status_failure(code, reason, message, details))


def not_found(resource: ResourceType, name: str) -> ApiError:
    return error(404, "NotFound", f'{resource.group_resource} "{name}" not found',
                 name=name, group=resource.group, kind=resource.plural)


def namespace_not_found(namespace: str) -> ApiError:
    return error(404, "NotFound", f'namespaces "{namespace}" not found',
                 name=namespace, kind="namespaces")


def unknown_resource() -> ApiError:
    return error(404, "NotFound", "the server could not find the requested resource")


def already_exists(resource: ResourceType, name: str) -> ApiError:
    return error(409, "AlreadyExists", f'{resource.group_resource} "{name}" already exists',
                 name=name, group=resource.group, kind=resource.plural)


def conflict(resource: ResourceType, name: str) -> ApiError:
    return error(
        409, "Conflict",
        f'Operation cannot be fulfilled on {resource.group_resource} "{name}": the object has '
        "been modified; please apply your changes to the latest version and try again",
        name=name, group=resource.group, kind=resource.plural)


def invalid(resource: ResourceType, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 Invalid; causes are (field, message) pairs as the schema or Go validation gives."""
    texts = [f"{field}: {message}" for field, message in causes]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return error(
        422, "Invalid", f'{resource.qualified_kind} "{name}" is invalid: {joined}',
        name=name, group=resource.group, kind=resource.kind,
        causes=[{"reason": _cause_reason(message), "message": message, "field": field}
                for field, message in causes])


# field.ErrorType -> the cause reason it is reported with (apimachinery field/errors.go).
_CAUSE_REASONS = (("Unsupported value", "FieldValueNotSupported"),
                  ("Required value", "FieldValueRequired"), ("Forbidden", "FieldValueForbidden"),
                  ("Duplicate value", "FieldValueDuplicate"), ("Too long", "FieldValueTooLong"),
                  ("Too many", "FieldValueTooMany"), ("Not found", "FieldValueNotFound"))


def _cause_reason(message: str) -> str:
    return next((reason for prefix, reason in _CAUSE_REASONS if message.startswith(prefix)),
                "FieldValueInvalid")


def invalid_option(options_kind: str, field: str, value: str, supported: str) -> ApiError:
    """422 for a bad query option such as dryRun=Yes."""
    message = f'Unsupported value: "{value}": supported values: "{supported}"'
    return error(
        422, "Invalid",
        f'{options_kind}.meta.k8s.io "" is invalid: {field}: {message}',
        group="meta.k8s.io", kind=options_kind,
        causes=[{"reason": "FieldValueNotSupported", "message": message, "field": field}])


def bad_request(message: str) -> ApiError:
    return error(400, "BadRequest", message)


def unprocessable(message: str) -> ApiError:
    """422 as apimachinery's NewGenericServerResponse words it (failed JSON patch)."""
    return error(422, "Invalid", "the server rejected our request due to an error in our request",
                 causes=[{"reason": "UnexpectedServerResponse", "message": message}])


def forbidden(resource_text: str, name: str | None, group: str, plural: str,
              reason_text: str) -> ApiError:
    subject = f'{resource_text} "{name}"' if name else resource_text
    return error(403, "Forbidden", f"{subject} is forbidden: {reason_text}",
                 name=name, group=group, kind=plural)


def method_not_allowed() -> ApiError:
    return error(405, "MethodNotAllowed",
                 "the server does not allow this method on the requested resource")


def unsupported_media_type(accepted: list[str]) -> ApiError:
    return error(
        415, "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(accepted)}")


def expired(requested: int, oldest: int) -> ApiError:
    return error(410, "Expired", f"too old resource version: {requested} ({oldest})")


def service_unavailable(message: str) -> ApiError:
    return error(503, "ServiceUnavailable", message)
