"""FHIR search parameters: which each resource type takes, and parsing a query into them.

One table (SEARCH_PARAMS) drives the parsing, the OpenAPI parameters of the search routes and
the CapabilityStatement, so the three cannot disagree. Repeating a parameter ANDs its values;
commas inside one value OR them (http.html#combining). Values are parsed here; the repository
turns them into SQL.
"""

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from app.fhir.exceptions import InvalidSearch, UnknownSearchParameter

DEFAULT_COUNT = 50
MAX_COUNT = 200
CURSOR = "_cursor"

# name -> (type, documentation), per resource type.
PATIENT_REF = ("reference", "The patient, as `<id>` or `Patient/<id>`.")
DATE_DOC = "Prefixes `eq ne lt gt le ge`; a date means the whole day in UTC."
SEARCH_PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    "Patient": {
        "_id": ("token", "The Patient id; comma-separated ids match any."),
        "name": ("string", "Starts any given, preferred or family name (case-insensitive)."),
        "family": ("string", "Starts the family name (case-insensitive)."),
        "given": ("string", "Starts a given or preferred name (case-insensitive)."),
        "birthdate": ("date", f"The date of birth (clinical roles only). {DATE_DOC}"),
    },
    "Appointment": {
        "_id": ("token", "The Appointment id; comma-separated ids match any."),
        "patient": PATIENT_REF,
        "date": ("date", f"The start of the appointment. {DATE_DOC}"),
        "status": ("token", "`booked`, `fulfilled`, `cancelled` or `noshow`."),
    },
    "Encounter": {
        "_id": ("token", "The Encounter id; comma-separated ids match any."),
        "patient": PATIENT_REF,
        "date": ("date", f"The period of the encounter. {DATE_DOC}"),
        "status": ("token", "`finished` (the only status an exported Encounter has)."),
    },
    "Observation": {
        "patient": ("reference", "Required unless `subject` is given. " + PATIENT_REF[1]),
        "subject": ("reference", "Required unless `patient` is given. " + PATIENT_REF[1]),
        "code": ("token", "LOINC code, as `code` or `http://loinc.org|code`."),
        "category": ("token", "`vital-signs` or `survey` (also `system|code`)."),
        "date": ("date", f"When the observation was made. {DATE_DOC}"),
    },
    "Consent": {
        "patient": PATIENT_REF,
        "status": ("token", "`active` or `inactive` (a withdrawn or expired consent)."),
    },
}
RESULT_PARAMS = {"_count", "_summary", CURSOR, "_format"}
DATE_PREFIXES = {"eq", "ne", "lt", "gt", "le", "ge"}
_DATE = re.compile(
    r"^(?P<y>\d{4})(-(?P<m>\d{2})(-(?P<d>\d{2})"
    r"(T(?P<H>\d{2}):(?P<M>\d{2})(:(?P<S>\d{2})(?P<f>\.\d+)?)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


@dataclass(frozen=True)
class Token:
    system: str | None  # None: any system; "": no system
    code: str


@dataclass(frozen=True)
class DateRange:
    """A date search value: the prefix and the instants [start, end) its precision covers."""

    prefix: str
    start: datetime
    end: datetime

    @property
    def days(self) -> tuple[date, date]:
        return self.start.date(), self.end.date()


@dataclass
class Search:
    """A parsed search: the applied parameters (each an AND of OR-lists of raw values)."""

    resource_type: str
    applied: dict[str, list[str]] = field(default_factory=dict)
    count: int = DEFAULT_COUNT
    summary_count: bool = False
    cursor: str | None = None

    def values(self, name: str) -> list[list[str]]:
        """Each occurrence of the parameter, split on commas (AND of ORs)."""
        return [value.split(",") for value in self.applied.get(name, [])]

    def tokens(self, name: str) -> list[list[Token]]:
        return [[token(part) for part in ors] for ors in self.values(name)]

    def dates(self, name: str) -> list[DateRange]:
        return [date_range(value) for value in self.applied.get(name, [])]

    def ids(self, name: str) -> list[list[str]]:
        return [[part.rsplit("/", 1)[-1].strip() for part in ors] for ors in self.values(name)]

    def query(self, *, cursor: str | None = None) -> str:
        """The query string of what was applied (the `self` link), with a cursor for `next`."""
        pairs = [(name, value) for name, values in self.applied.items() for value in values]
        if self.summary_count:
            pairs.append(("_summary", "count"))
        if self.count != DEFAULT_COUNT:
            pairs.append(("_count", str(self.count)))
        if cursor is not None:
            pairs.append((CURSOR, cursor))
        return urlencode(pairs)


def token(value: str) -> Token:
    if "|" in value:
        system, code = value.split("|", 1)
        return Token(system.strip(), code.strip())
    return Token(None, value.strip())


def parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _bounds(match: re.Match[str]) -> tuple[datetime, datetime]:
    year, month, day = int(match["y"]), int(match["m"] or 1), int(match["d"] or 1)
    if match["m"] is None:
        return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    if match["d"] is None:
        start = datetime(year, month, 1, tzinfo=UTC)
        return start, (start + timedelta(days=32)).replace(day=1)
    if match["H"] is None:
        start = datetime(year, month, day, tzinfo=UTC)
        return start, start + timedelta(days=1)
    zone = match["tz"] or "Z"
    text = f"{match['y']}-{match['m']}-{match['d']}T{match['H']}:{match['M']}:{match['S'] or '00'}"
    start = datetime.fromisoformat(text + (match["f"] or "") + zone.replace("Z", "+00:00"))
    step = timedelta(minutes=1) if match["S"] is None else timedelta(seconds=1)
    if match["f"]:
        step = timedelta(microseconds=1)
    return start.astimezone(UTC), (start + step).astimezone(UTC)


def date_range(value: str) -> DateRange:
    """`[prefix]date`: a dateTime's precision is its range (search.html#date)."""
    prefix = value[:2] if value[:2].isalpha() else "eq"
    text = value[2:] if value[:2].isalpha() else value
    match = _DATE.match(text)
    if prefix not in DATE_PREFIXES or match is None:
        raise InvalidSearch(f"Not a FHIR date search value: {value!r}.")
    try:
        start, end = _bounds(match)
    except ValueError as exc:
        raise InvalidSearch(f"Not a valid date: {value!r}.") from exc
    return DateRange(prefix, start, end)


def _count(value: str) -> int:
    if not value.isdigit():
        raise InvalidSearch("`_count` takes a whole number.")
    return min(int(value), MAX_COUNT)  # a server may return fewer than asked, never more


def _check(resource_type: str, name: str, value: str) -> None:
    kind = SEARCH_PARAMS[resource_type][name][0]
    if not value.strip():
        raise InvalidSearch(f"`{name}` needs a value.")
    if kind == "date":
        date_range(value)
        if name == "birthdate" and "T" in value:
            raise InvalidSearch("`birthdate` takes a date, not a time.")


def parse(resource_type: str, items: Iterable[tuple[str, str]], *, strict: bool) -> Search:
    """A search from the query's (name, value) pairs; unknown names are dropped (lenient) or a
    400 (`Prefer: handling=strict`)."""
    known = SEARCH_PARAMS[resource_type]
    search = Search(resource_type)
    for name, value in items:
        if name == "_count":
            search.count = _count(value)
            # `_count=0` asks for the total alone (search.html#count), as `_summary=count`.
            search.summary_count = search.summary_count or search.count == 0
            search.count = search.count or DEFAULT_COUNT
        elif name == "_summary":
            if value != "count":
                raise InvalidSearch("Only `_summary=count` is supported.")
            search.summary_count = True
        elif name == CURSOR:
            search.cursor = value
        elif name == "_format":
            continue  # JSON is the only format; the media type says so
        elif name in known:
            _check(resource_type, name, value)
            search.applied.setdefault(name, []).append(value)
        elif strict:
            raise UnknownSearchParameter(f"{resource_type} has no search parameter `{name}`.")
    return search


def is_strict(prefer: str | None) -> bool:
    """`Prefer: handling=strict` (http.html#search)."""
    parts = [part.strip().replace(" ", "") for part in (prefer or "").split(";")]
    return "handling=strict" in [p for part in parts for p in part.split(",")]
