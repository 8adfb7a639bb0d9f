"""`/r/<token>`: the client's form (GET) and its submission (POST), as HTML pages.

No login: the token in the URL is the credential, so these routes verify no caller and are
paid for by the client address (app/unit_of_work.py), plus the link limits (limits.py). Every
answer is a page, failures included (404 unknown link, 410 used, expired or revoked, 415, 422
naming the items, 429). Reads and uses are audited with the link as the actor (role
`client_link`, id the link's): ids only, never an answer. Not part of the JSON API, so not in
OpenAPI.
"""

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.responses import HTMLResponse

from app.assessments.scoring import Instrument
from app.audit.actors import Actor
from app.auth.principal import AuthSubject
from app.clock import Now
from app.db import DbSession
from app.errors import AppError
from app.self_report import service
from app.self_report.instruments import WORDINGS
from app.self_report.limits import link_limits
from app.self_report.rendering import PAGE_PREFIX, error_page, page
from app.self_report.repository import LinkHolder
from app.unit_of_work import UnitOfWorkRoute, current_unit

LINK_ROLE = "client_link"
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 100


class FormRequired(AppError):
    status, code, title = 415, "unsupported_media_type", "Send the form as a web form"


class FormUnreadable(AppError):
    status, code, title = 422, "validation_error", "The form could not be read"


class RejectedForm(AppError):
    """Answers that cannot be recorded: the form again, marked, with a 422 (nothing stored)."""

    status, code, title = 422, "validation_error", "Some answers are missing or not valid"

    def __init__(self, response: HTMLResponse) -> None:
        super().__init__()
        self.response = response


class PageRoute(UnitOfWorkRoute):
    """A UnitOfWorkRoute whose failures are pages: the unit of work rolls back and audits as
    for any route, then the failure is rendered for a person instead of as problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer_with_pages(request: Request) -> Response:
            try:
                limits = link_limits(request.app)
                if limits is not None:
                    await limits.admit(request.scope, str(request.path_params.get("token", "")))
                return await handler(request)
            except RejectedForm as rejected:
                return rejected.response
            except AppError as error:
                return error_page(error, getattr(request.state, "link_clinic_name", None))

        return answer_with_pages


router = APIRouter(
    prefix=PAGE_PREFIX.rstrip("/"),
    tags=["assessment-requests"],
    route_class=PageRoute,
    include_in_schema=False,
)


async def _open(request: Request, db: DbSession, token: str, *, for_update: bool) -> LinkHolder:
    """The link the token names, with the unit of work acting as it from then on."""
    work = current_unit(request)
    work.act_as(Actor(None, None, LINK_ROLE))
    holder = await service.find_link(db, token, for_update=for_update)
    link = holder.request
    work.act_as(Actor(link.clinic_id, link.id, LINK_ROLE))
    work.trail.subject_id = str(link.id)
    # A refused use of a real link is filed, and bounded, under its clinic (app/audit/denials).
    request.state.auth_subject = AuthSubject(link.clinic_id, None, None)
    request.state.link_clinic_name = holder.clinic.name
    return holder


def _form(
    holder: LinkHolder,
    status: int = 200,
    problems: tuple[service.ItemProblem, ...] = (),
    answers: dict[int, int] | None = None,
) -> HTMLResponse:
    wording = WORDINGS[Instrument(holder.request.instrument)]
    return page(
        "form.html",
        status,
        clinic_name=holder.clinic.name,
        wording=wording,
        problems=problems,
        invalid={p.number: p.message for p in problems},
        answers=answers or {},
    )


@router.get("/{token}", response_class=HTMLResponse)
async def open_self_report_form(
    token: str, request: Request, db: DbSession, now: Now
) -> HTMLResponse:
    holder = await _open(request, db, token, for_update=False)
    service.ensure_open(holder, now)
    return _form(holder)


def _fields(body: bytes) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    pairs = parse_qsl(
        body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=MAX_FIELDS
    )
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return fields


def _given(fields: dict[str, list[str]], count: int) -> dict[int, int]:
    """The answers to show again on a rejected form: each item's single valid-looking value."""
    given: dict[int, int] = {}
    for number in range(1, count + 1):
        values = fields.get(f"item{number}", [])
        if len(values) == 1 and values[0].isascii() and values[0].isdigit():
            given[number] = int(values[0])
    return given


@router.post("/{token}", response_class=HTMLResponse)
async def submit_self_report_form(
    token: str, request: Request, db: DbSession, now: Now
) -> HTMLResponse:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != FORM_TYPE:
        raise FormRequired(f"Send the form as {FORM_TYPE}.")
    try:
        fields = _fields(await request.body())
    except ValueError as exc:  # more fields than any form has
        raise FormUnreadable("The form has more fields than any form has.") from exc
    holder = await _open(request, db, token, for_update=True)
    service.ensure_open(holder, now)
    instrument = Instrument(holder.request.instrument)
    # A repeated item is ambiguous: it counts as no answer rather than as either one.
    single = {name: values[0] for name, values in fields.items() if len(values) == 1}
    try:
        scores = service.answers_from(single, instrument)
    except service.AnswersInvalid as invalid:
        count = len(WORDINGS[instrument].items)
        raise RejectedForm(_form(holder, 422, invalid.problems, _given(fields, count))) from None
    assessment = await service.complete(db, holder, scores, now)
    return page(
        "thanks.html",
        clinic_name=holder.clinic.name,
        self_harm=assessment.self_harm_item_positive,
    )
