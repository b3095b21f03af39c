"""Find a binary the test needs: in CI a missing tool fails the test, elsewhere it skips it."""

import shutil

from tests.conftest import fail_in_ci_else_skip


def require_tool(*names: str) -> str:
    for name in names:
        if path := shutil.which(name):
            return path
    fail_in_ci_else_skip(f"{' or '.join(names)} not on PATH (make prometheus-tools)")
