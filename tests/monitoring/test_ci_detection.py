"""CI detection is case-insensitive: `CI=True` fails a test that lacks a service instead of skipping it."""

import pytest

from tests.conftest import fail_in_ci_else_skip, running_in_ci

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("value", "in_ci"), [
    ("true", True), ("True", True), ("TRUE", True), ("1", True), ("yes", True),
    ("", False), ("false", False), ("False", False), ("0", False), ("no", False),
])
def test_ci_values(monkeypatch, value, in_ci):
    monkeypatch.setenv("CI", value)
    assert running_in_ci() is in_ci


def test_a_missing_service_fails_under_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "True")
    with pytest.raises(pytest.fail.Exception, match="required in CI: redis-server"):
        fail_in_ci_else_skip("redis-server")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="redis-server"):
        fail_in_ci_else_skip("redis-server")
