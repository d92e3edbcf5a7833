"""Resource verbs: get, list, create, replace, patch, delete, deletecollection, SSAR."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import options, patch, status, tables
from .paths import Target
from .protobuf import ProtobufError, decode_ssar, decode_ssrr
from .protobuf_objects import decode_object
from .resources import ResourceType, by_kind
from .responses import json_response
from .validation import deprecation_warning

if TYPE_CHECKING:
    from .cluster_state import ClusterState

PROTOBUF = "application/vnd.kubernetes.protobuf"


async def read_json(request: web.Request) -> Any:
    if request.content_type == PROTOBUF:
        # kubectl's create generators send protobuf; only the kinds they create are read.
        try:
            decoded = decode_object(await request.read())
        except ProtobufError as error:
            raise status.error(
                415, "UnsupportedMediaType",
                f"the warroom drill cluster reads protobuf bodies only as kubectl create, "
                f"run and debug send them ({error}): send this object as JSON or YAML "
                "(kubectl create -f FILE)") from None
        if decoded is None:
            raise status.unsupported_media_type(["application/json", "application/yaml"])
        return decoded
    raw = await request.read()
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise status.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None


def _warnings(target: Target) -> list[str]:
    assert target.resource is not None
    text = deprecation_warning(target.api_version, target.resource.kind)
    return [text] if text else []


def _check_body(target: Target, body: Any) -> dict[str, Any]:
    """Default apiVersion/kind/namespace from the URL and reject a body that contradicts it."""
    resource = target.resource
    assert resource is not None
    if not isinstance(body, dict):
        raise status.bad_request("the body of the request must be a JSON object")
    body.setdefault("apiVersion", target.api_version)
    body.setdefault("kind", resource.kind)
    if body["apiVersion"] != target.api_version:
        raise status.bad_request(f"the API version in the data ({body['apiVersion']}) does not "
                                 f"match the expected API version ({target.api_version})")
    if body["kind"] != resource.kind:
        raise status.bad_request(f"the object provided is unrecognized (must be of type "
                                 f"{resource.kind}): {body['kind']}")
    metadata = body.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        raise status.bad_request("metadata must be an object")
    if resource.namespaced and target.namespace is not None:
        if metadata.get("namespace") and metadata["namespace"] != target.namespace:
            raise status.bad_request("the namespace of the provided object does not match the "
                                     "namespace sent on the request")
        metadata["namespace"] = target.namespace
    return body


def _as_table(state: ClusterState, target: Target, request: web.Request,
              objects: list[dict[str, Any]], version: str) -> web.Response | None:
    if not tables.wants_table(request.headers.get("Accept", "")):
        return None
    assert target.resource is not None
    body = tables.table(target.resource, objects, version,
                        request.query.get("includeObject", "Metadata"), state.clock())
    return json_response(body, warnings=_warnings(target))


def get_object(state: ClusterState, target: Target, request: web.Request) -> web.Response:
    resource = target.resource
    assert resource is not None
    assert target.name is not None
    found = state.get(target.api_version, resource.kind, target.namespace, target.name)
    if found is None:
        raise status.not_found(resource, target.name)
    as_table = _as_table(state, target, request, [found], found["metadata"]["resourceVersion"])
    return as_table or json_response(found, warnings=_warnings(target))


def list_objects(state: ClusterState, target: Target, request: web.Request) -> web.Response:
    resource = target.resource
    assert resource is not None
    query = request.query
    continue_token = query.get("continue") or None
    if continue_token and query.get("resourceVersion") not in (None, "", "0"):
        raise status.bad_request("specifying resource version is not allowed when using continue")
    page = state.list_page(
        target.api_version, resource.kind, target.namespace,
        label_selector=query.get("labelSelector"), field_selector=query.get("fieldSelector"),
        limit=options.non_negative_int(query, "limit"), continue_token=continue_token)
    metadata: dict[str, Any] = {"resourceVersion": page.resource_version}
    if page.continue_token:
        metadata["continue"] = page.continue_token
    if page.remaining_item_count is not None:
        metadata["remainingItemCount"] = page.remaining_item_count
    if tables.wants_table(request.headers.get("Accept", "")):
        body = tables.table(resource, page.items, page.resource_version,
                            query.get("includeObject", "Metadata"), state.clock())
        body["metadata"] = metadata  # kubectl get follows the Table's continue token
        return json_response(body, warnings=_warnings(target))
    body = {"kind": f"{resource.kind}List", "apiVersion": target.api_version,
            "metadata": metadata, "items": page.items}
    return json_response(body, warnings=_warnings(target))


async def create_object(state: ClusterState, target: Target,
                        request: web.Request) -> web.Response:
    resource = target.resource
    assert resource is not None
    if resource.kind == "SelfSubjectAccessReview":
        return await self_subject_access_review(state, request)
    if resource.kind == "SelfSubjectRulesReview":
        return await self_subject_rules_review(state, request)
    if resource.kind == "SelfSubjectReview":
        return self_subject_review(state)
    dry_run = options.dry_run(request.query, "CreateOptions")
    validation = options.field_validation(request.query)
    body = _check_body(target, await read_json(request))
    warnings = _warnings(target)
    created = state.create(body, dry_run=dry_run, field_validation=validation,
                           warnings=warnings)
    return json_response(created, 201, warnings)


async def replace_object(state: ClusterState, target: Target,
                         request: web.Request) -> web.Response:
    resource = target.resource
    assert resource is not None
    assert target.name is not None
    dry_run = options.dry_run(request.query, "UpdateOptions")
    validation = options.field_validation(request.query)
    body = _check_body(target, await read_json(request))
    sent_name = body["metadata"].get("name")
    if sent_name and sent_name != target.name:
        raise status.bad_request(f"the name of the object ({sent_name}) does not match the name "
                                 f"on the URL ({target.name})")
    body["metadata"]["name"] = target.name
    warnings = _warnings(target)
    replaced = state.replace(body, dry_run=dry_run, field_validation=validation,
                             warnings=warnings, keep_status=True)
    return json_response(replaced, warnings=warnings)


async def patch_object(state: ClusterState, target: Target,
                       request: web.Request) -> web.Response:
    resource = target.resource
    assert resource is not None
    assert target.name is not None
    content_type = request.content_type
    accepted = [patch.JSON_PATCH, patch.MERGE_PATCH]
    if resource.builtin:
        accepted.append(patch.STRATEGIC_MERGE_PATCH)
    if content_type == patch.APPLY_PATCH:
        raise status.error(415, "UnsupportedMediaType",
                           "server-side apply is a limit of the warroom drill cluster: it "
                           "serves client-side apply only (kubectl apply without "
                           "--server-side); accepted media types include: "
                           + ", ".join(accepted))
    if content_type not in accepted:
        raise status.unsupported_media_type(accepted)
    dry_run = options.dry_run(request.query, "PatchOptions")
    validation = options.field_validation(request.query)
    document = await read_json(request)
    warnings = _warnings(target)
    with state.lock:
        current = state.get(target.api_version, resource.kind, target.namespace, target.name)
        if current is None:
            raise status.not_found(resource, target.name)
        try:
            if content_type == patch.JSON_PATCH:
                patched = patch.apply_json_patch(current, document)
            elif content_type == patch.MERGE_PATCH:
                if not isinstance(document, dict):
                    raise patch.PatchFailed("json: cannot unmarshal array into Go value of type "
                                            "map[string]interface {}", bad_request=True)
                patched = patch.apply_merge_patch(current, document)
            else:
                patched = patch.apply_strategic_merge_patch(current, document)
        except patch.PatchFailed as failed:
            if failed.bad_request:
                raise status.bad_request(str(failed)) from None
            raise status.unprocessable(str(failed)) from None
        if not isinstance(patched.get("metadata"), dict):
            raise status.bad_request("metadata must be an object")
        for field in ("name", "namespace"):
            if patched["metadata"].get(field) != current["metadata"].get(field):
                raise status.bad_request(f"metadata.{field} cannot be changed by a patch")
        patched["apiVersion"], patched["kind"] = current["apiVersion"], current["kind"]
        result = state.replace(patched, dry_run=dry_run, field_validation=validation,
                               warnings=warnings, keep_status=True)
    return json_response(result, warnings=warnings)


async def delete_object(state: ClusterState, target: Target,
                        request: web.Request) -> web.Response:
    resource = target.resource
    assert resource is not None
    assert target.name is not None
    delete_options = await _delete_options(request)
    dry_run = options.dry_run(request.query, "DeleteOptions", delete_options.get("dryRun"))
    preconditions = delete_options.get("preconditions") or {}
    deleted = state.delete(target.api_version, resource.kind, target.namespace, target.name,
                           dry_run=dry_run,
                           precondition_version=preconditions.get("resourceVersion"),
                           precondition_uid=preconditions.get("uid"))
    if resource.delete_returns_object:
        return json_response(deleted, warnings=_warnings(target))
    return json_response(status.status_success(resource, target.name,
                                               deleted["metadata"].get("uid")))


async def delete_collection(state: ClusterState, target: Target,
                            request: web.Request) -> web.Response:
    resource = target.resource
    assert resource is not None
    delete_options = await _delete_options(request)
    dry_run = options.dry_run(request.query, "DeleteOptions", delete_options.get("dryRun"))
    deleted = state.delete_collection(
        target.api_version, resource.kind, target.namespace,
        label_selector=request.query.get("labelSelector"),
        field_selector=request.query.get("fieldSelector"), dry_run=dry_run)
    body = {"kind": f"{resource.kind}List", "apiVersion": target.api_version,
            "metadata": {"resourceVersion": state.resource_version}, "items": deleted}
    return json_response(body, warnings=_warnings(target))


async def _delete_options(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    body = await read_json(request)
    return body if isinstance(body, dict) else {}


async def self_subject_access_review(state: ClusterState,
                                     request: web.Request) -> web.Response:
    """Answer "can I?" from the same rules that guard every request."""
    if request.content_type == PROTOBUF:
        try:
            review = decode_ssar(await request.read())
        except ProtobufError as exc:
            raise status.bad_request(f"unable to decode the SelfSubjectAccessReview: {exc}") \
                from None
    else:
        review = await read_json(request)
    if not isinstance(review, dict) or not isinstance(review.get("spec"), dict):
        raise status.invalid(_ssar_resource(), "", [("spec", "Required value")])
    spec = review["spec"]
    attributes = spec.get("resourceAttributes")
    if isinstance(attributes, dict):
        allowed = state.allowed(
            str(attributes.get("verb") or ""), str(attributes.get("group") or ""),
            str(attributes.get("resource") or ""), attributes.get("namespace") or None,
            attributes.get("name") or None, attributes.get("subresource") or None)
    elif isinstance(spec.get("nonResourceAttributes"), dict):
        allowed = state.allowed("*", "*", "*", None)
    else:
        raise status.invalid(_ssar_resource(), "", [
            ("spec.resourceAttributes", "Required value: exactly one of nonResourceAttributes "
                                        "or resourceAttributes must be specified")])
    answer = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "metadata": {"creationTimestamp": None}, "spec": spec,
              "status": {"allowed": allowed}}
    if allowed:
        answer["status"]["reason"] = "allowed by the drill cluster's rules"
    return json_response(answer, 201)


def _ssar_resource() -> ResourceType:
    resource = by_kind("authorization.k8s.io/v1", "SelfSubjectAccessReview")
    assert resource is not None
    return resource


async def self_subject_rules_review(state: ClusterState,
                                    request: web.Request) -> web.Response:
    """List the rules that apply in a namespace (`kubectl auth can-i --list`)."""
    if request.content_type == PROTOBUF:
        try:
            review = decode_ssrr(await request.read())
        except ProtobufError as exc:
            raise status.bad_request(f"unable to decode the SelfSubjectRulesReview: {exc}") \
                from None
    else:
        review = await read_json(request)
    spec = review.get("spec") if isinstance(review, dict) else None
    if not isinstance(spec, dict):
        spec = {}
    namespace = spec.get("namespace") or None
    answer = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
              "metadata": {"creationTimestamp": None}, "spec": spec,
              "status": {"resourceRules": state.rules_in(namespace),
                         "nonResourceRules": [], "incomplete": False}}
    return json_response(answer, 201)


def self_subject_review(state: ClusterState) -> web.Response:
    """`kubectl auth whoami`: who the drill's requests act as (the body says nothing more)."""
    username = state.username
    groups = ["system:authenticated"]
    if username.startswith("system:serviceaccount:"):
        namespace = username.split(":")[2]
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", *groups]
    answer = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
              "metadata": {"creationTimestamp": None},
              "status": {"userInfo": {"username": username, "groups": groups}}}
    return json_response(answer, 201)
