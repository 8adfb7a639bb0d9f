"""Calendar months in UTC, the unit the audit trail is partitioned and archived by (issue 17)."""

import re
from datetime import UTC, date, datetime

# The tables kept in monthly partitions on PostgreSQL, and archived a month at a time.
AUDIT_TABLES = ("audit_events", "audit_event_resources")


def month_of(at: datetime | date) -> date:
    """The first day of the (UTC) month `at` falls in."""
    if isinstance(at, datetime):
        at = at.astimezone(UTC)
    return date(at.year, at.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def months_from(first: date, count: int) -> list[date]:
    """`count` consecutive months starting with the month of `first`."""
    months = [month_of(first)]
    while len(months) < count:
        months.append(next_month(months[-1]))
    return months[:count]


def start_of(month: date) -> datetime:
    """The month's first instant, in UTC."""
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def partition_name(table: str, month: date) -> str:
    """e.g. audit_events_y2026m03."""
    return f"{table}_y{month.year:04d}m{month.month:02d}"


def month_of_partition(table: str, name: str) -> date | None:
    """The month a partition's name says, or None for another table (the default partition)."""
    prefix = f"{table}_y"
    rest = name.removeprefix(prefix)
    if rest == name or len(rest) != 7 or rest[4] != "m" or not (rest[:4] + rest[5:]).isdigit():
        return None
    return date(int(rest[:4]), int(rest[5:]), 1)


# The partitions' own names (PostgreSQL): tables of their own to the catalogue, not models.
PARTITION_NAME = re.compile(r"(audit_events|audit_event_resources)_(y\d{4}m\d{2}|default)")
