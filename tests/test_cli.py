import subprocess
import sys

from stepeval import __version__


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "stepeval.cli.main", *args], capture_output=True, text=True)


def test_help_and_version():
    res = run_cli("--help")
    assert res.returncode == 0 and "data" in res.stdout and "--verbose" in res.stdout
    res = run_cli("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"stepeval {__version__}"
    res = run_cli("data", "--help")
    for cmd in ("info", "validate", "fetch", "export", "ids"):
        assert cmd in res.stdout


def test_user_error_exit_2_without_traceback_unless_verbose(tmp_path):
    res = run_cli("data", "validate", str(tmp_path / "nope"))
    assert res.returncode == 2 and "benchmark folder not found" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("--verbose", "data", "validate", str(tmp_path / "nope"))
    assert res.returncode == 2 and "Traceback" in res.stderr


def test_usage_error_exit_2():
    res = run_cli("data", "validate")
    assert res.returncode == 2 and "Missing argument" in res.stderr
