"""What the app's lifespan does to the process around the requests it serves."""

import gc

from app.main import YOUNG_COLLECTION_EVERY
from tests.support.apps import MakeApp


async def test_objects_alive_at_start_up_are_frozen_while_serving(make_app: MakeApp) -> None:
    # A full collection that walks every route, schema and table at start-up cost a worklist
    # 1.8 ms of CPU on average, and paused requests for about 0.1 s each time it ran.
    app = make_app()
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0  # an app dropped by the process can be collected again


async def test_young_collections_are_rarer_while_serving(make_app: MakeApp) -> None:
    before = gc.get_threshold()
    app = make_app()
    async with app.router.lifespan_context(app):
        assert gc.get_threshold() == (YOUNG_COLLECTION_EVERY, *before[1:])
    assert gc.get_threshold() == before  # the process's own setting again
