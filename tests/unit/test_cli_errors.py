"""Every way the CLI can fail ends as the README says: one `error:` line, exit code 1, no traceback.

Unexpected exceptions keep their traceback: in a log file the line points to, or on the terminal
with --debug.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipyard_cli.main import app

pytestmark = pytest.mark.unit
runner = CliRunner()
ANSI = re.compile(r"\x1b\[")


def run(*args: str, **kwargs):
    return runner.invoke(app, list(args), **kwargs)


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    assert "Traceback" not in output and "Usage:" not in output and not ANSI.search(output)
    return lines[0]


@pytest.mark.parametrize("args, names", [
    (("data", "generate", "--rows", "many"), "Invalid value for '--rows': Input should be a valid integer"),
    (("data", "generate", "--colour", "blue"), "No such option: --colour"),
    (("data", "generate", "--rows", "0"), "'--rows': Input should be greater than or equal to 1"),
    (("pipeline", "teleport"), "No such command 'teleport'"),
])
def test_option_errors_are_one_line_and_exit_1(shipyard_home, args, names):
    result = run(*args)
    assert result.exit_code == 1
    line = one_error_line(result.output)
    assert names in line and "--help" in line


def test_unknown_use_case_is_one_line(shipyard_home, monkeypatch):
    monkeypatch.setenv("SHIPYARD_USE_CASE", "weather")
    result = run("data", "generate", "--rows", "10")
    assert result.exit_code == 1
    assert "unknown use case 'weather'" in one_error_line(result.output)


def test_bad_setting_is_one_line_naming_the_variable(shipyard_home, monkeypatch):
    monkeypatch.setenv("SHIPYARD_PROFILE", "staging")
    result = run("data", "generate", "--rows", "10")
    assert result.exit_code == 1
    assert "SHIPYARD_PROFILE" in one_error_line(result.output)


def test_unexpected_error_points_to_its_traceback(shipyard_home, monkeypatch):
    import shipyard.data

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(shipyard.data, "generate", broken)
    result = run("data", "generate", "--rows", "10")
    assert result.exit_code == 1
    line = one_error_line(result.output)
    assert "unexpected RuntimeError: disk on fire" in line
    log = Path(re.search(r"traceback in (\S+?);", line).group(1))
    try:
        assert "Traceback" in log.read_text() and "disk on fire" in log.read_text()
    finally:
        log.unlink()

    debug = run("--debug", "data", "generate", "--rows", "10")
    assert isinstance(debug.exception, RuntimeError)  # with --debug the exception is not swallowed


def test_piped_output_has_no_colour_codes(shipyard_home):
    """A real process with its output piped: the error is plain text on stderr, stdout stays clean."""
    result = subprocess.run([sys.executable, "-m", "shipyard_cli.main", "data", "generate", "--rows", "x"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stdout == ""
    line = one_error_line(result.stderr)
    assert "Invalid value for '--rows'" in line and "`shipyard data generate --help`" in line


def test_serve_on_a_busy_port_fails_at_once(shipyard_home):
    """Checked before the model is loaded: this home has no model, so a later check would fail on that."""
    import socket

    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "shipyard_cli.main", "serve", "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"port {port} is already in use" in one_error_line(result.stderr)
