"""The `kap-journey` command: serve | worker | migrate | bootstrap | create-api-key | demo |
reseal-secrets | audit-archive | audit-restore."""

import asyncio
import json
import signal
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.archive import ArchiveRefused
from app.audit.archive import archive as audit_archive_months
from app.audit.archive import restore as audit_restore_month
from app.auth.service import issue_key
from app.cli_reseal import Resealed, reseal_all
from app.clinics.bootstrap import bootstrap_clinic
from app.clinics.schemas import BootstrapInput
from app.clock import system_clock
from app.common.crypto import secret_box_for
from app.config import get_settings
from app.db import begin_write, create_engine, create_sessionmaker
from app.events.service import subscribe
from app.migrate import upgrade
from app.ops.logging import configure_logging
from app.staff.models import Staff
from app.webhooks.fanout import WEBHOOK_FAN_OUT

cli = typer.Typer(help="KAP Journey: client journeys and the post-dose integration window.")
err = Console(stderr=True)
T = TypeVar("T")


def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed transaction on the configured database."""

    async def run() -> T:
        engine = create_engine(get_settings())
        try:
            async with create_sessionmaker(engine)() as db:
                await begin_write(db)
                result = await work(db)
                await db.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=2)


def _first_errors(exc: ValidationError) -> str:
    return "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())


@cli.command()
def migrate() -> None:
    """Upgrade the configured database to the latest schema (alembic upgrade head)."""
    upgrade(get_settings().database_url)
    err.print("[green]database is at the latest revision[/green]")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run the background worker in-process.")
    ] = False,
) -> None:
    """Migrate the database, then serve the API (docs at /docs)."""
    from app.main import create_app

    settings = get_settings()
    configure_logging(settings.log_level)
    upgrade(settings.database_url)
    app = create_app(settings, run_worker=not no_worker)
    if settings.metrics_bind is not None:
        from app.ops.metrics import serve_apart

        serve_apart(settings.metrics_bind, app.state.metrics)
    # No access log: request lines carry query strings such as ?q=<client name>, i.e. PHI.
    # Proxy headers are believed only from KAP_TRUSTED_PROXIES (from no one when it is empty);
    # uvicorn's own FORWARDED_ALLOW_IPS is refused by Settings, so it cannot widen this.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=False,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
    )


@cli.command()
def worker() -> None:
    """Run the outbox dispatcher and window scanner until SIGTERM (any number on PostgreSQL)."""
    from app.ops.metrics import Metrics, serve_apart
    from app.worker import Worker

    settings = get_settings()
    configure_logging(settings.log_level)
    upgrade(settings.database_url)
    metrics = Metrics()
    if settings.metrics_bind is not None:  # the queue metrics; a worker serves nothing else
        serve_apart(settings.metrics_bind, metrics)

    async def run() -> None:
        engine = create_engine(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            worker = Worker(
                create_sessionmaker(engine),
                settings,
                secret_box_for(settings),
                system_clock,
                registry=metrics.registry,
            )
            await worker.run(stop)
        finally:
            await engine.dispose()

    asyncio.run(run())


@cli.command()
def bootstrap(
    clinic_name: Annotated[str, typer.Option(help="The clinic's name.")],
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. America/New_York.")],
    admin_email: Annotated[str, typer.Option(help="Email of the first admin.")],
    admin_name: Annotated[str, typer.Option(help="Name of the first admin.")] = "Clinic admin",
    prescriber: Annotated[
        bool,
        typer.Option(
            "--prescriber",
            help="The first admin is a licensed prescriber (MD, DO, NP, PA), e.g. the medical "
            "director: they may clear screenings and write medication orders.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout and nothing else.")
    ] = False,
) -> None:
    """Create a clinic and its first admin with an API key."""
    try:
        data = BootstrapInput(
            clinic_name=clinic_name,
            timezone=timezone,
            admin_email=admin_email,
            admin_name=admin_name,
        )
    except ValidationError as exc:
        raise _fail(_first_errors(exc)) from None
    upgrade(get_settings().database_url)
    made = _in_transaction(
        lambda db: bootstrap_clinic(
            db,
            name=data.clinic_name,
            timezone=data.timezone,
            admin_email=data.admin_email,
            admin_name=data.admin_name,
            now=datetime.now(UTC),
            prescriber=prescriber,
        )
    )
    result = {
        "clinic_id": str(made.clinic.id),
        "admin_id": str(made.admin.id),
        "api_key": made.api_key,
    }
    if as_json:
        typer.echo(json.dumps(result))
        return
    err.print(f"clinic [bold]{made.clinic.name}[/bold] created: {made.clinic.id}")
    role = "admin and prescriber" if made.admin.prescriber else "admin"
    err.print(f"{role} {made.admin.email}: {made.admin.id}")
    err.print("API key (shown once, store it now):")
    typer.echo(made.api_key)


@cli.command("create-api-key")
def create_api_key(
    staff_id: Annotated[str, typer.Option(help="The staff member the key acts as.")],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "cli",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Issue a new API key for an existing staff member."""
    try:
        staff_uuid = uuid.UUID(staff_id)
    except ValueError:
        raise _fail("--staff-id must be a UUID") from None

    async def issue(db: AsyncSession) -> tuple[str, str] | None:
        staff = await db.get(Staff, staff_uuid)
        if staff is None or not staff.active:
            return None
        key, plaintext = await issue_key(db, staff, name, datetime.now(UTC))
        return str(key.id), plaintext

    issued = _in_transaction(issue)
    if issued is None:
        raise _fail(f"no active staff member {staff_id}")
    key_id, plaintext = issued
    if as_json:
        typer.echo(json.dumps({"api_key_id": key_id, "staff_id": staff_id, "api_key": plaintext}))
    else:
        typer.echo(plaintext)


@cli.command()
def demo(
    clinic_name: Annotated[str, typer.Option(help="Name of the demo clinic.")] = "Demo KAP Clinic",
    timezone: Annotated[str, typer.Option(help="IANA time zone.")] = "America/Los_Angeles",
    clients: Annotated[
        int, typer.Option(min=8, max=500, help="How many clients (8 or more cover every case).")
    ] = 20,
    seed: Annotated[int, typer.Option(help="Random seed, for a repeatable set.")] = 7,
) -> None:
    """Fill a new clinic with a realistic set of journeys (every stage, several routes)."""
    from app.demo import fill_demo_clinic

    try:
        BootstrapInput(
            clinic_name=clinic_name,
            timezone=timezone,
            admin_email="admin@demo.example",
            admin_name="Demo admin",
        )
    except ValidationError as exc:
        raise _fail(_first_errors(exc)) from None
    upgrade(get_settings().database_url)
    made = _in_transaction(
        lambda db: fill_demo_clinic(
            db,
            clinic_name=clinic_name,
            timezone=timezone,
            clients=clients,
            seed=seed,
            now=datetime.now(UTC),
        )
    )
    err.print(f"demo clinic {made.clinic.id} with {clients} clients; admin key:")
    typer.echo(made.api_key)


@cli.command("reseal-secrets")
def reseal_secrets(
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Rows per transaction (one commit each).")
    ] = 200,
) -> None:
    """Seal every stored secret again with KAP_SECRET_KEY, after a key rotation.

    Resumable, and safe beside live traffic: values already under the current key are skipped.
    """

    def report(result: Resealed) -> None:
        typer.echo(result.summary())
        for key in result.unreadable:
            typer.echo(f"unreadable: {result.column} id={key}", err=True)

    results = asyncio.run(reseal_all(get_settings(), batch_size, report))
    unreadable = sum(len(result.unreadable) for result in results)
    if unreadable:
        err.print(
            f"[red]error:[/red] {unreadable} value(s) open with none of the keys in "
            "KAP_SECRET_KEY and KAP_SECRET_KEY_PREVIOUS; they were left as they are",
            soft_wrap=True,
        )
        raise typer.Exit(code=1)


def _audit_files(work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(get_settings())
        try:
            return await work(create_sessionmaker(engine))
        except ArchiveRefused as refused:
            raise _fail(str(refused)) from None
        finally:
            await engine.dispose()

    return asyncio.run(run())


@cli.command("audit-archive")
def audit_archive(
    before: Annotated[
        str, typer.Option(help="First day of a month, YYYY-MM-01: archive every month before it.")
    ],
    out: Annotated[Path, typer.Option(help="Folder for the NDJSON files.")] = Path("audit-archive"),
) -> None:
    """Export whole months of the audit trail older than --before as NDJSON (one file per
    month, fsynced), then drop them from the database. Safe to run again."""
    try:
        cutoff = date.fromisoformat(before)
    except ValueError:
        raise _fail(f"--before {before!r} is not a date (YYYY-MM-DD)") from None
    today = datetime.now(UTC).date()
    done = _audit_files(lambda maker: audit_archive_months(maker, cutoff, out, today))
    for month in done:
        typer.echo(f"{month.path}: {month.events} events, {month.resources} further resources")
    if not done:
        typer.echo(f"nothing stored before {cutoff.isoformat()}")


@cli.command("audit-restore")
def audit_restore(
    file: Annotated[Path, typer.Argument(help="An audit-events-YYYY-MM.ndjson file.")],
) -> None:
    """Put one archived month back into the audit trail (refused if that month holds rows)."""
    if not file.is_file() or not file.name.startswith("audit-events-"):
        raise _fail(f"{file} is not an audit-events-YYYY-MM.ndjson file")
    restored = _audit_files(lambda maker: audit_restore_month(maker, file))
    typer.echo(f"{restored.month:%Y-%m}: {restored.events} events restored")


def main() -> None:
    subscribe(WEBHOOK_FAN_OUT)  # every command's events (worker, demo) reach webhook endpoints
    try:
        cli()
    except ValidationError as exc:
        if exc.title != "Settings":
            raise
        # Only the messages: a rejected value may be a secret (KAP_SECRET_KEY_PREVIOUS).
        message = escape(_first_errors(exc))
        err.print(f"[red]error:[/red] invalid settings: {message}", soft_wrap=True)
        raise SystemExit(2) from None
