"""A parsed FHIR search -> the repository's filters: ids to UUIDs, FHIR codes to stored values,
and for Observations which sources (vitals kinds, score instruments) a `code` or `category` can
match at all, decided before any query runs."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from app.fhir.appointment import APPOINTMENT_STATUS
from app.fhir.common import OBSERVATION_CATEGORY, Resource
from app.fhir.consent import CONSENT_STATE
from app.fhir.exceptions import SearchParameterMissing
from app.fhir.observation import INSTRUMENT_CODES, SURVEY, VITAL_CODES, VITAL_SIGNS
from app.fhir.repository import (
    AndOr,
    ConsentFilter,
    PatientFilter,
    ScoreFilter,
    SessionFilter,
)
from app.fhir.search import Search, Token, parse_uuid

APPOINTMENT_STATUS_SYSTEM = "http://hl7.org/fhir/appointmentstatus"
ENCOUNTER_STATUS_SYSTEM = "http://hl7.org/fhir/encounter-status"
SESSION_STATUSES = {code: status for status, code in APPOINTMENT_STATUS.items()}


def _uuids(values: list[list[str]]) -> AndOr:
    """Ids as UUID OR-sets; an id that is no UUID names nothing (an empty set matches none)."""
    return [{found for part in ors if (found := parse_uuid(part)) is not None} for ors in values]


def _codes(tokens: list[list[Token]], system: str) -> list[set[str]]:
    """The codes of token OR-lists whose system is `system` or left open."""
    return [{t.code for t in ors if t.system in (None, "", system)} for ors in tokens]


def patient_filter(search: Search) -> PatientFilter:
    return PatientFilter(
        ids=_uuids(search.ids("_id")),
        names=search.values("name"),
        families=search.values("family"),
        givens=search.values("given"),
        birthdates=search.dates("birthdate"),
    )


def session_filter(search: Search, *, encounters: bool) -> SessionFilter:
    if encounters:
        codes = _codes(search.tokens("status"), ENCOUNTER_STATUS_SYSTEM)
        # Every Encounter is finished: `status=finished` keeps all, any other code none.
        statuses: AndOr = [set() for ors in codes if "finished" not in ors]
    else:
        codes = _codes(search.tokens("status"), APPOINTMENT_STATUS_SYSTEM)
        statuses = [{SESSION_STATUSES[c] for c in ors if c in SESSION_STATUSES} for ors in codes]
    return SessionFilter(
        encounters=encounters,
        ids=_uuids(search.ids("_id")),
        clients=_uuids(search.ids("patient")),
        statuses=statuses,
        dates=search.dates("date"),
    )


def consent_filter(search: Search, now: datetime) -> ConsentFilter:
    codes = _codes(search.tokens("status"), CONSENT_STATE)
    statuses = [ors & {"active", "inactive"} for ors in codes]
    return ConsentFilter(now=now, clients=_uuids(search.ids("patient")), statuses=statuses)


@dataclass
class ObservationSources:
    """What an Observation search can match: vitals reading kinds and score instruments."""

    vitals: set[str]
    instruments: set[str]
    clients: AndOr
    search: Search

    def scores(self) -> ScoreFilter:
        return ScoreFilter(self.instruments, self.clients, self.search.dates("date"))


def _codings(codings: Iterable[Resource], tokens: list[Token]) -> bool:
    return any(
        coding["code"] == t.code and t.system in (None, "", coding["system"])
        for coding in codings
        for t in tokens
    )


def observation_sources(search: Search) -> ObservationSources:
    """The sources `code` and `category` leave; a patient (or subject) is required."""
    clients = _uuids(search.ids("patient")) + _uuids(search.ids("subject"))
    if not clients:
        raise SearchParameterMissing("Search Observations by patient: add ?patient=<id>.")
    vitals, instruments = set(VITAL_CODES), set(INSTRUMENT_CODES)
    for ors in search.tokens("category"):
        wanted = {t.code for t in ors if t.system in (None, "", OBSERVATION_CATEGORY)}
        vitals = vitals if VITAL_SIGNS in wanted else set()
        instruments = instruments if SURVEY in wanted else set()
    for ors in search.tokens("code"):
        vitals = {kind for kind in vitals if _codings(VITAL_CODES[kind], ors)}
        instruments = {i for i in instruments if _codings([INSTRUMENT_CODES[i][1]], ors)}
    return ObservationSources(vitals, instruments, clients, search)


def observation_kind(observation_id: str) -> str:
    """The reading kind at the end of a vitals Observation id (`...-bp`)."""
    return observation_id.rsplit("-", 1)[-1]
