"""The GPU check's dry run: the same code path on the CPU with tiny data, writing its JSON."""
import json
import subprocess
import sys

from attrec_lib.bench import gpu_check


def test_dry_run_times_every_case_and_the_released_code_run(tmp_path):
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--dry-run", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["dry_run"] and report["card"] == "dryrun-cpu" and report["skipped"] == []
    timed = [(r["dataset"], r["model"], r["preset"]) for r in report["rows"]]
    assert timed == gpu_check.BENCH_CASES
    assert all(r["epoch_s"] > 0 and r["eval_s"] > 0 for r in report["rows"])
    run = report["released_code_run"]
    assert len(run["history"]) == gpu_check.RUN_EPOCHS and 0 <= run["history"][-1]["valid_hr@50"] <= 1


def test_a_step_past_the_budget_is_skipped_and_listed(tmp_path):
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--dry-run", "--out", str(out), "--budget-s", "0"]) == 0
    report = json.loads(out.read_text())
    assert report["rows"] == [] and len(report["skipped"]) == len(gpu_check.BENCH_CASES) + 1


def test_missing_module_is_named(monkeypatch, capsys):
    monkeypatch.setattr(gpu_check, "REQUIRED", ("torch", "no_such_module_xyz"))
    assert gpu_check.main(["--dry-run"]) == 2
    assert "no_such_module_xyz" in capsys.readouterr().err


def test_a_machine_without_torch_gets_the_missing_module_named_not_a_traceback():
    # The package (attrec_lib.bench and what its __init__ imports) must import without torch, so
    # that main() can name it: torch is blocked in a fresh interpreter before the module runs.
    code = ("import runpy, sys; sys.modules['torch'] = None; sys.argv = ['gpu_check']; "
            "runpy.run_module('attrec_lib.bench.gpu_check', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "missing Python modules ['torch']" in done.stderr and "Traceback" not in done.stderr
