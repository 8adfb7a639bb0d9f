"""The audit trail's months ahead (issue 17): the worker's recurring task that creates the
PostgreSQL partitions of the current month and the next ones before any row needs them.

Safe in several workers at once: the DDL runs under one advisory lock and only creates what is
missing. Rows of a month nobody prepared land in the default partition, so nothing is lost.
"""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.months import month_of, months_from
from app.audit.partitions import create_months, is_partitioned

MONTHS_AHEAD = 2  # besides the current month; the migration prepares as many


async def prepare_months(db: AsyncSession, now: datetime) -> int:
    """Create the partitions from now's month to MONTHS_AHEAD months on; how many were made."""
    if not await is_partitioned(db):
        return 0  # SQLite: plain tables
    return await create_months(db, months_from(month_of(now), MONTHS_AHEAD + 1))
