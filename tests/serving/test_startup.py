"""What a serving process does once its model is loaded, before it answers."""

import gc
import logging
import sys

from kserve.errors import InvalidInput, ModelNotReady, ServerNotReady

from components.serving.server import ServeOptions, quiet_answered_refusals, worker_startup


class Loaded:
    """Stands in for the predictor: its load is what the worker start-up waits for."""

    def __init__(self):
        self.alive_at_load = None

    def load(self):
        self.alive_at_load = [object() for _ in range(1000)]  # tracked containers, like a loaded model's
        return True


def test_a_worker_freezes_what_its_load_left_alive_so_full_collections_skip_it():
    predictor = Loaded()
    before = gc.get_freeze_count()
    try:
        worker_startup(ServeOptions(access_log=True), predictor)
        assert gc.get_freeze_count() >= before + len(predictor.alive_at_load)
    finally:
        gc.unfreeze()  # this test process keeps collecting as before


def test_kserve_logs_no_traceback_for_a_refusal_it_answered_and_keeps_the_others(caplog):
    quiet_answered_refusals()
    quiet_answered_refusals()  # once is enough: not a second filter
    kserve_log = logging.getLogger("kserve")
    assert len(kserve_log.filters) == len({type(f) for f in kserve_log.filters})
    with caplog.at_level(logging.ERROR, logger="kserve"):
        for error in (ServerNotReady("store down"), ModelNotReady("fraud"), InvalidInput("bad"),
                      RuntimeError("a bug")):
            try:
                raise error
            except Exception:
                kserve_log.error("Exception:", exc_info=sys.exc_info())
    assert [r.exc_info[1].args[0] for r in caplog.records] == ["a bug"]
