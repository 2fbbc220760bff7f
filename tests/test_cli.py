"""The ``rlframe`` console command."""
import json
import subprocess
import sys


from rlframe import __version__
from rlframe.cli import main
from rlframe.logging.checkpoint import save_checkpoint


def test_help_runs_in_a_fresh_process():
    out = subprocess.run([sys.executable, "-m", "rlframe.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for cmd in ["version", "info", "checkpoint", "placement"]:
        assert cmd in out.stdout


def test_version(capsys):
    assert main(["version"]) == 0
    out = capsys.readouterr().out
    assert f"rlframe {__version__}" in out and "torch" in out and "gymnasium" in out


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "usage: rlframe" in capsys.readouterr().out


def test_info_with_env_shows_specs(capsys):
    assert main(["info", "--env", "CartPole-v1", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["env"]["observation"].startswith("shape (4,)") and "Discrete(2)" in info["env"]["action"]
    assert info["cpus_logical"] >= 1


def test_checkpoint_summary_and_error(tmp_path, capsys):
    save_checkpoint({"itr": 3, "env_steps": 96, "specs": {"observation": {"shape": [4]}}}, str(tmp_path), 3)
    assert main(["checkpoint", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["itr"] == 3 and out["env_steps"] == 96
    assert main(["checkpoint", str(tmp_path / "missing.pt")]) == 2
    assert "CheckpointError" in capsys.readouterr().err


def test_placement_subcommand_is_wired(capsys):
    assert main(["placement", "info", "--list"]) == 0
    assert "ariane133" in capsys.readouterr().out
