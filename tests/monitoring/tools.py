"""Find a binary the test needs: in CI a missing tool fails the test, elsewhere it skips it."""

import os
import shutil

import pytest


def require_tool(*names: str) -> str:
    for name in names:
        if path := shutil.which(name):
            return path
    message = f"{' or '.join(names)} not on PATH (make prometheus-tools)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
