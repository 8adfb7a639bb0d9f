"""Keeping the ceiling honest: it must send the app's SQL and find the app's rows.

For a few requests, the app runs in-process with its statements captured (bench/scale/capture.py)
and the ceiling's handler runs on a recording connection, in a transaction rolled back after.
The two must send the same statements in the same order (whitespace aside), each as one execute
or as an executemany of as many rows, with the same parameters in the same order (times aside), and
return the same sessions; run.py measures nothing
otherwise. When the app's SQL changes, capture it again and paste it into the ceiling's modules.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.scale.capture import Statement, normalized, recording_app
from bench.scale.ceiling_clinic import clinic
from bench.scale.ceiling_journey import journey
from bench.scale.ceiling_worklist import DEFAULT_LIMIT, worklist
from bench.scale.generate import driver_url

CLINIC = "/api/v1/clinic"


@dataclass(frozen=True)
class Sent:
    """A statement the ceiling sent: its SQL, its (first row's) parameters, and as
    capture.Statement counts them, the rows of an executemany (0 for a single execute)."""

    sql: str
    parameters: tuple[Any, ...]
    many: int


class RecordingConnection:
    """An asyncpg connection that notes what the ceiling sends."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self.sent: list[Sent] = []

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.sent.append(Sent(query, args, 0))
        return list(await self.connection.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        self.sent.append(Sent(query, args, 0))
        return await self.connection.fetchrow(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        self.sent.append(Sent(query, args, 0))
        return await self.connection.execute(query, *args)

    async def executemany(self, command: str, args: Sequence[Sequence[Any]]) -> None:
        self.sent.append(Sent(command, tuple(args[0]) if args else (), len(args)))
        await self.connection.executemany(command, args)


def _comparable(parameters: Sequence[Any]) -> list[str]:
    """Parameters in order, with what depends on the moment (times, epoch microseconds) as a
    placeholder: each must be what the app sends in the same place."""
    kept = []
    for value in parameters:
        if isinstance(value, datetime) or (isinstance(value, int) and value > 10**15):
            kept.append("<moment>")
            continue
        if isinstance(value, list):  # an array for `= ANY (...)`: its order means nothing
            value = sorted(value, key=repr)
        kept.append(repr(value))
    return kept


def _found(body: dict[str, Any], keys: Sequence[str]) -> list[list[str]]:
    """The ids of the lists at `keys`, or with no keys, the id of the one resource."""
    if not keys:
        return [[str(body["id"])]]
    return [[str(item["id"]) for item in body[key]] for key in keys]


async def check_ceiling(url: str, paths: list[tuple[str, str]]) -> None:
    """For each (key, path): the ceiling sends the statements our API sends, in the same order,
    with the same parameters (but for times and new ids), and finds the same rows."""
    connection = await asyncpg.connect(driver_url(url))
    try:
        async with recording_app(url) as app:
            for key, path in paths:
                response, captured = await app.get(path, key)
                assert response.status_code == 200, (path, response.text)
                ours = [s for s in captured if not s.text.startswith("UPDATE api_keys")]
                recorder = RecordingConnection(connection)
                prefix = key.split("_")[1]
                transaction = connection.transaction()
                await transaction.start()
                try:
                    body, keys = await _ceiling_body(recorder, prefix, path)
                finally:
                    await transaction.rollback()
                _compare(path, ours, recorder.sent)
                assert body is not None, path
                if _found(body, keys) != _found(response.json(), keys):
                    raise AssertionError(f"{path}: the ceiling found other rows than ours")
    finally:
        await connection.close()


async def _ceiling_body(
    recorder: RecordingConnection, prefix: str, path: str
) -> tuple[dict[str, Any] | None, Sequence[str]]:
    now = datetime.now(UTC)
    if path == CLINIC:
        return await clinic(recorder, prefix, now), ()
    if path.endswith("/journey"):
        client_id = uuid.UUID(path.split("/")[4])
        return await journey(recorder, prefix, client_id, now), ("sessions",)
    clinician = path.partition("clinician_id=")[2]
    body = await worklist(
        recorder, prefix, uuid.UUID(clinician) if clinician else None, DEFAULT_LIMIT, now
    )
    return body, ("unbooked", "outside_window")


def _statements_module(path: str) -> str:
    """Where the ceiling keeps the statements of the endpoint at `path`."""
    if path == CLINIC:
        endpoint = "clinic"
    else:
        endpoint = "journey" if path.endswith("/journey") else "worklist"
    return f"bench/scale/ceiling_{endpoint}.py (the key and audit statements: ceiling_shared.py)"


def _compare(path: str, ours: list[Statement], sent: list[Sent]) -> None:
    if [s.text for s in ours] != [normalized(s.sql) for s in sent]:
        where = _statements_module(path)
        lines = [f"{path}: the ceiling's SQL differs from the app's; update {where}"]
        for mine, theirs in zip(ours, sent, strict=False):
            if mine.text != normalized(theirs.sql):
                lines += [f"app:     {mine.text}", f"ceiling: {normalized(theirs.sql)}"]
        lines.append(f"({len(ours)} statements from the app, {len(sent)} from the ceiling)")
        raise AssertionError("\n".join(lines))
    for mine, theirs in zip(ours, sent, strict=True):
        if mine.many != theirs.many:
            raise AssertionError(
                f"{path}: {mine.many} rows from the app, {theirs.many} from the ceiling "
                f"(0: one execute, not an executemany) for\n{mine.text}"
            )
        if mine.text.startswith(("SELECT", "WITH")) and _comparable(mine.parameters) != _comparable(
            theirs.parameters
        ):
            raise AssertionError(
                f"{path}: parameters differ for\n{mine.text}\napp: {mine.parameters}\n"
                f"ceiling: {theirs.parameters}"
            )
