"""Smoke test of the benchmark's pieces on a tiny synthetic data set (no subprocess, no real data)."""
import pytest

from attrec_lib import bench, models
from attrec_lib.data.sequences import split_leave_last_out
from attrec_lib.data.synthetic import planted_sequences


@pytest.fixture(scope="module")
def split():
    return split_leave_last_out(planted_sequences(n_users=30, n_items=40, length=15), hold_out_valid=False)


@pytest.mark.parametrize("model,preset", [("attrec", "paper"), ("attrec", "released_code"), ("caser", "paper")])
def test_measure_reports_every_figure(split, model, preset):
    row = bench.measure("tiny", model, preset, epochs=2, eval_repeats=1, device="cpu", split=split)
    assert row["epoch_s"] > 0 and row["eval_s"] > 0 and row["windows_per_s"] > 0
    assert row["n_windows"] == 30 * (14 - 8 + 1)  # 14 training items, windows of L + T = 8
    assert len(row["epoch_s_all"]) == 2 and row["device"].startswith("cpu")
    row.update(threads=1, peak_mib=1.0)
    row = bench.add_floors(row, {"gflops": 10.0, "copy_gbps": 10.0})
    assert 0 < row["floor_epoch_s"] and 0 < row["floor_eval_s"]
    assert "tiny" in bench.format_table([row])


def test_flop_model_grows_with_d_squared():
    small, big = models.make_config("attrec", "paper", d=100), models.make_config("attrec", "paper", d=200)
    ratio = bench.flops_per_window("attrec", big) / bench.flops_per_window("attrec", small)
    assert 3.0 < ratio <= 4.0


def test_check_targets_flags_a_miss():
    row = {"dataset": "ml-100k", "model": "attrec", "preset": "paper", "threads": 2, "epoch_s": 2.0}
    assert bench.check_targets([row])[0].startswith("MISS")


def test_grid_wall_times_a_profile_from_an_empty_cache_and_compares_engines(tmp_path, monkeypatch):
    # Two in-process engines (no Ray: the Ray path is tested in test_execution.py): the script
    # times each from its own empty results folder and finds the results identical.
    from attrec_lib.bench import grid_wall
    out = tmp_path / "grid-wall.json"
    report = grid_wall.main(["--profile", "tiny", "--workers", "0", "0", "--out", str(out)])
    assert [t["workers"] for t in report["timings"]] == [0, 0]
    assert all(t["wall_seconds"] > 0 and t["result_files"] >= 18 and t["pss_mib"] > 0 for t in report["timings"])
    assert report["identical"][0]["identical"] and not report["identical"][0]["differing"]
    assert out.exists()
