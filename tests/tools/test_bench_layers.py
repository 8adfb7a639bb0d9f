"""bench/scale/layers.py puts each py-spy sample in the first layer of its table that one of the
sample's frames belongs to, and leaves start-up out of the shares."""

import pytest

from bench.scale.layers import OUTSIDE, bound, layer_of, shares

REQUEST = [
    "<module> (bench/scale/profile.py:160)",
    "run (uvloop/__init__.py:92)",
    "_run.<locals>.one_connection (bench/scale/profile.py:107)",
    "asgi_get (bench/scale/profile.py:93)",
    "FastAPI.__call__ (fastapi/applications.py:1224)",
]
AUDIT_INSERT = [
    *REQUEST,
    "UnitOfWorkRoute._run (app/unit_of_work.py:300)",
    "UnitOfWork._write_audit (app/unit_of_work.py:172)",
    "insert_rows (app/audit/writes.py:70)",
    "execute (app/db_direct.py:161)",
    "PreparedStatement.__do_execute (asyncpg/prepared_stmt.py:257)",
]
READ_MODEL = [
    *REQUEST,
    "get_journey (app/journeys/router.py:28)",
    "journey (app/journeys/service.py:131)",
    "to_read (app/sessions/read_models.py:75)",
    "BaseModel.__init__ (pydantic/main.py:280)",
]
CHECKOUT = [  # a greenlet's stack: the pool beneath the engine, a ping's statement beneath both
    "greenlet_spawn (sqlalchemy/util/concurrency.py:203)",
    "Engine.connect (sqlalchemy/engine/base.py:3280)",
    "_ConnectionFairy._checkout (sqlalchemy/pool/base.py:1290)",
    "_ping_when_idle.<locals>.checkout (app/db.py:261)",
    "Connection.execute (asyncpg/connection.py:377)",
]
DIRECT_COMMIT = [  # the COMMIT sent from the event loop, then the session's bookkeeping
    *REQUEST,
    "UnitOfWork.commit (app/unit_of_work.py:150)",
    "Session.commit (app/db.py:300)",
    "commit_sent_directly (app/db_commit.py:40)",
    "Transaction.commit (asyncpg/transaction.py:211)",
]
SESSION_COMMIT = [*DIRECT_COMMIT[:-2], "Session.commit (sqlalchemy/orm/session.py:2030)"]
CHECKIN = [*SESSION_COMMIT, "_finalize_fairy (sqlalchemy/pool/base.py:1050)"]
CEILING_RELEASE = [  # the pool's reset is a statement too
    *REQUEST[:4],
    "create_app.<locals>.get_journey (bench/scale/ceiling.py:86)",
    "PoolAcquireContext.__aexit__ (asyncpg/pool.py:1031)",
    "Connection.reset (asyncpg/connection.py:1557)",
]
IMPORT = [
    "<module> (bench/scale/profile.py:3)",
    "_load_unlocked (<frozen importlib._bootstrap>:690)",
]
LOOP = ["<module> (bench/scale/profile.py:160)", "run (uvloop/__init__.py:92)"]


@pytest.mark.parametrize(
    ("frames", "layer"),
    [
        (AUDIT_INSERT, "SQL sent, rows read"),  # a statement is SQL, wherever it is sent from
        (AUDIT_INSERT[:-2], "audit trail"),
        (CHECKOUT, "connection checkout and return"),  # not SQL, though an engine frame is there
        (CEILING_RELEASE, "connection checkout and return"),
        (DIRECT_COMMIT, "SQL sent, rows read"),
        (SESSION_COMMIT, "ORM session: begin, commit, close"),  # not "unit of work", further out
        (DIRECT_COMMIT[:-2], "ORM session: begin, commit, close"),
        (CHECKIN, "connection checkout and return"),
        (READ_MODEL, "read models"),  # not "endpoint, the rest", further out
        (READ_MODEL[:-2], "endpoint, the rest"),
        (REQUEST, "routing and middleware"),
        (LOOP, OUTSIDE),
        (IMPORT, None),
    ],
)
def test_a_sample_belongs_to_the_first_layer_one_of_its_frames_is_in(
    frames: list[str], layer: str | None
) -> None:
    assert layer_of(frames) == layer


def test_shares_weigh_samples_by_their_count_and_leave_start_up_out() -> None:
    raw = [
        f"{';'.join(AUDIT_INSERT)} 3\n",
        f"{';'.join(READ_MODEL)} 1\n",
        f"{';'.join(IMPORT)} 50\n",
    ]

    assert shares(raw) == {"SQL sent, rows read": 0.75, "read models": 0.25}
    assert shares([f"{';'.join(IMPORT)} 5\n"]) == {}


def test_the_bound_keeps_the_ceilings_plumbing_and_puts_our_own_work_in_place_of_its() -> None:
    # Ours: 4 ms, of which read models 25 % and JSON 10 % (1.4 ms own work), SQL the rest.
    ours = {"read models": 0.25, "JSON written": 0.10, "SQL sent, rows read": 0.65}
    # The ceiling: 1 ms, of which its JSON 20 % (0.2 ms), SQL 50 %, the event loop 30 %.
    ceiling = {"JSON written": 0.20, "SQL sent, rows read": 0.50, OUTSIDE: 0.30}

    assert bound(ours, 4.0, ceiling, 1.0) == pytest.approx(1.0 - 0.2 + 1.4)
    # Plumbing of ours that the ceiling lacks (dependency resolution) is not counted.
    assert bound({**ours, "dependency resolution": 0.1}, 4.0, ceiling, 1.0) == pytest.approx(2.2)
