"""The component image's Dockerfile keeps its invariants (it cannot be built on this machine)."""

import re
from pathlib import Path

import pytest

from components import COMPONENT_IMAGE

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "components" / "Dockerfile").read_text()
INSTRUCTIONS = [line.strip() for line in DOCKERFILE.replace("\\\n", " ").splitlines()
                if line.strip() and not line.lstrip().startswith("#")]


def instructions(keyword: str) -> list[str]:
    return [line.split(None, 1)[1] for line in INSTRUCTIONS if line.split(None, 1)[0].upper() == keyword]


def test_base_image_is_pinned_by_version():
    (base,) = instructions("FROM")
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base), base


def test_runs_as_a_non_root_user():
    users = instructions("USER")
    assert users, "no USER: the image would run as root"
    assert users[-1].split(":")[0] == "10001"
    assert INSTRUCTIONS.index(next(i for i in INSTRUCTIONS if i.startswith("USER"))) > max(
        n for n, i in enumerate(INSTRUCTIONS) if i.startswith("RUN"))  # nothing runs as root after it


def test_installs_the_locked_dependencies_and_the_project():
    runs = " ".join(instructions("RUN"))
    assert "COPY requirements.lock" in " ".join(f"COPY {c}" for c in instructions("COPY"))
    assert re.search(r"pip install (--\S+ )*-r requirements\.lock", runs)
    assert re.search(r"pip install (--\S+ )*\.( |$)", runs)
    copied = " ".join(instructions("COPY"))
    packages = ("shipyard", "shipyard_cli", "components", "pipelines", "monitoring", "feature_repo", "usecases")
    for package in (*packages, "pyproject.toml"):
        assert package in copied


def test_image_name_is_versioned_and_matches_the_contract():
    assert not COMPONENT_IMAGE.endswith(":latest") and re.search(r":\d+\.\d+\.\d+$", COMPONENT_IMAGE)
    assert f"`{COMPONENT_IMAGE}`" in (ROOT / "docs" / "contract.md").read_text()
    assert COMPONENT_IMAGE in DOCKERFILE  # the build command documented in the file tags it so
