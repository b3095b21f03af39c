"""Run a pipeline on this machine from its compiled IR YAML with kfp.local's SubprocessRunner.

What runs here is what the KFP UI receives: the pipeline is compiled (pipelines/compile.py, with
its kfp-kubernetes environment), loaded back with ``kfp.components.load_component_from_file`` and
executed. Its steps get exactly the pipeline's settings variables, with the values a pod gets from
the manifests (``environment``); no other Shipyard variable of the calling process leaks into them.
"""

import contextlib
import io
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

from shipyard.settings import ALL_VARIABLES

# Output artifacts inside a kfp.local run folder: <pipeline root>/<run>/<task>/<output>.
VALIDATION_REPORT = Path("validate-op/report")
SCORES = Path("score-op/scores")

ANSI = re.compile(r"\x1b\[[0-9;]*m")  # kfp.local colours its messages even when nobody reads them on a terminal
FAILED_TASK = re.compile(r"Inner task failed: '([^']+)'")
EXCEPTION_LINE = re.compile(r"^\s*(?:[a-z_][\w]*\.)*([A-Z]\w*(?:Error|Exception)): (.+)$")
# What the user runs next when a step fails for a reason outside the pipeline.
NEXT_COMMAND = {
    "FeatureServiceNotFoundException": "run `shipyard features apply` first",
    "FeatureViewNotFoundException": "run `shipyard features apply` first",
}


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


@contextlib.contextmanager
def pipeline_environment(environment: Mapping[str, str] | None) -> Iterator[None]:
    """The steps' environment: ``environment`` for Shipyard's settings variables, none of the caller's."""
    if environment is None:
        yield
        return
    unknown = set(environment) - ALL_VARIABLES
    if unknown:
        raise ValueError(f"not settings variables: {', '.join(sorted(unknown))}")
    saved = {name: os.environ[name] for name in ALL_VARIABLES if name in os.environ}
    for name in saved:
        del os.environ[name]
    os.environ.update({k: v for k, v in environment.items() if v != ""})
    try:
        yield
    finally:
        for name in ALL_VARIABLES:
            os.environ.pop(name, None)
        os.environ.update(saved)


def package_of(pipeline, pipeline_root: Path) -> Path:
    """The compiled IR YAML of ``pipeline`` (a ``@dsl.pipeline``, or already a compiled file)."""
    from pipelines.compile import compile_function

    if isinstance(pipeline, Path):
        return pipeline
    return compile_function(pipeline, pipeline_root / "packages" / f"{pipeline.name}.yaml")


def run_locally(pipeline, pipeline_root: Path, log_path: Path | None = None,
                environment: Mapping[str, str] | None = None, **arguments):
    """Run the compiled ``pipeline`` in this virtualenv; the components' chatter goes to ``log_path``."""
    from kfp import components, local

    loaded = components.load_component_from_file(str(package_of(pipeline, pipeline_root)))
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root),
               raise_on_error=True)
    sink = open(log_path, "a") if log_path else contextlib.nullcontext(io.StringIO())  # noqa: SIM115
    with (sink as out, contextlib.redirect_stdout(out), warnings.catch_warnings(), _tmpdir(pipeline_root / "tmp"),
          pipeline_environment(environment)):
        # The component image is ours (it has Python), whatever its name says.
        warnings.filterwarnings("ignore", message=".*non-Python base image.*")
        # Display names are for the KFP UI; kfp.local ignores them and says so for every task.
        warnings.filterwarnings("ignore", message=".*have no effect in the current local runner.*")
        # kfp.local has no Kubernetes: the platform config (ConfigMap, Secret, volume) is what
        # ``environment`` stands in for.
        warnings.filterwarnings("ignore", message=".*platform.*")
        return loaded(**arguments)


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


def step_failure(error: Exception, log_path: Path | None) -> str:
    """One line: the step that failed, the exception that stopped it (from the component log), what to do next.

    kfp.local raises only "Inner task failed: '<task>'" (in colour); the cause is in the step's output,
    which ``run_locally`` sends to ``log_path``.
    """
    message = ANSI.sub("", str(error))
    task = FAILED_TASK.search(message)
    cause = None
    if log_path is not None and log_path.exists():
        for line in ANSI.sub("", log_path.read_text(errors="replace")).splitlines():
            if found := EXCEPTION_LINE.match(line):
                cause = found
    if task is None or cause is None:
        return f"{message} (component logs: {log_path})"
    hint = NEXT_COMMAND.get(cause[1])
    return (f"step {task[1]} failed: {cause[1]}: {cause[2]}" + (f"; {hint}" if hint else "")
            + f" (component logs: {log_path})")
