"""What a serving process does once its model is loaded, before it answers."""

import gc

from components.serving.server import ServeOptions, worker_startup


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
