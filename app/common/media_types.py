"""Routes that take a JSON body refuse any other body with 415 `unsupported_media_type`.

Without this, a body sent as a form (curl's `-d` default), as text/plain or with no Content-Type
at all reaches validation as raw bytes and is answered 422 "Input should be a valid dictionary",
which does not say what to send. The rule follows each route's own body: routes that declare
form fields (`Form()`) and routes that read the raw body themselves (inbound webhooks) are left
alone, so it never stands in the way of a form or a signed payload.
"""

from email.message import Message
from typing import Any

from fastapi import Request
from fastapi.params import Form
from fastapi.routing import APIRoute

from app.errors import PROBLEM_JSON, PROBLEM_REF, UnsupportedMediaType

JSON = "application/json"
ACCEPT_HEADER = {"POST": "Accept-Post", "PATCH": "Accept-Patch"}


def is_json(content_type: str) -> bool:
    """`application/json` or any `application/*+json` (merge-patch, fhir), parameters allowed."""
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def takes_json_body(route: object) -> bool:
    """Whether a route declares a body that FastAPI reads as JSON."""
    if not isinstance(route, APIRoute) or route.body_field is None:
        return False
    return not isinstance(route.body_field.field_info, Form)


async def require_json_body(request: Request) -> None:
    """An app-wide check (`app/main.py` `check_request`): it runs before the route's own
    dependencies (authentication included), as a body that is not JSON is refused before
    anything is looked up, like malformed JSON."""
    if not takes_json_body(request.scope.get("route")):
        return
    if not await request.body():  # FastAPI has read and kept it already
        return
    content_type = request.headers.get("content-type", "")
    if is_json(content_type):
        return
    said = "has no Content-Type" if not content_type.strip() else "is not declared as JSON"
    accept = ACCEPT_HEADER.get(request.method)  # RFC 9110 15.5.16: say what is accepted
    raise UnsupportedMediaType(
        f"The request body {said}: send it as JSON with `Content-Type: {JSON}`.",
        headers={accept: JSON} if accept else None,
    )


def document_unsupported_media_type(schema: dict[str, Any]) -> None:
    """Every operation with a JSON request body can answer 415."""
    problem = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            content = operation.get("requestBody", {}).get("content", {})
            if any(is_json(media_type) for media_type in content):
                operation.setdefault("responses", {}).setdefault(
                    "415", {"description": "unsupported_media_type", "content": problem}
                )
