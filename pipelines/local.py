"""Run a pipeline on this machine with kfp.local's SubprocessRunner (same functions as on a cluster)."""

import contextlib
import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path

# Output artifacts inside a kfp.local run folder: <pipeline root>/<run>/<task>/<output>.
VALIDATION_REPORT = Path("validate-op/report")
SCORES = Path("score-op/scores")


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
        # Display names are for the KFP UI; kfp.local ignores them and says so for every task.
        warnings.filterwarnings("ignore", message=".*have no effect in the current local runner.*")
        return pipeline(**arguments)


def run_dirs(pipeline_root: Path) -> set[Path]:
    return set(pipeline_root.glob("shipyard-*"))


def newest_artifact(pipeline_root: Path, before: set[Path], artifact: Path) -> Path | None:
    """``artifact`` of the newest run folder created since ``before`` (kfp.local names folders by time)."""
    new = sorted(run_dirs(pipeline_root) - before, key=lambda p: p.stat().st_mtime)
    found = [run / artifact for run in new if (run / artifact).exists()]
    return found[-1] if found else None


def validation_failure(report: Path | None) -> str | None:
    """The one-line reason of a failed validation report, or None if it did not fail."""
    if report is None:
        return None
    text = report.read_text()
    violations = [line[2:] for line in text.split("## Violations", 1)[-1].splitlines() if line.startswith("- ")]
    return ("data validation failed: " + "; ".join(violations)) if "FAILED" in text and violations else None
