"""Run a pipeline on this machine with kfp.local's SubprocessRunner (same functions as on a cluster)."""

import contextlib
import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path


@contextlib.contextmanager
def _tmpdir(path: Path):
    """Each component run makes a temp dir it never removes: keep them under the pipeline root."""
    path.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(path)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = previous


def run_locally(pipeline: Callable, pipeline_root: Path, log_path: Path | None = None, **arguments):
    """Run ``pipeline`` in this virtualenv; the components' chatter goes to ``log_path``."""
    from kfp import local

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root),
               raise_on_error=True)
    sink = open(log_path, "a") if log_path else contextlib.nullcontext(io.StringIO())  # noqa: SIM115
    with sink as out, contextlib.redirect_stdout(out), warnings.catch_warnings(), _tmpdir(pipeline_root / "tmp"):
        # The component image is ours (it has Python), whatever its name says.
        warnings.filterwarnings("ignore", message=".*non-Python base image.*")
        return pipeline(**arguments)
