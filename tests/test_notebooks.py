"""Every notebook executes through papermill on the tiny synthetic profile.

The committed notebooks are checked by nbval against the committed cache (``make nbval``); a
broken notebook could hide behind that cache, so this test re-runs each one from scratch, on the
synthetic data set with tiny models, into temporary results and figures folders.
"""
import shutil
import subprocess

import pandas as pd
import pytest

from attrec_lib.settings import paths

NOTEBOOKS = sorted(paths.NOTEBOOKS_DIR.glob("[0-9][0-9]-*.ipynb"))


def git_status() -> str | None:
    """``git status --porcelain`` of the repository (None where git or the repository is missing)."""
    if shutil.which("git") is None or not (paths.REPO_ROOT / ".git").exists():
        return None
    return subprocess.run(["git", "status", "--porcelain"], cwd=paths.REPO_ROOT, capture_output=True,
                          text=True, check=True).stdout


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_the_tiny_profile(notebook, tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("ATTREC_FIGURES_DIR", str(tmp_path / "figures"))
    monkeypatch.setenv("ATTREC_RUN_LOG", str(tmp_path / "runs.log"))  # run progress: a file, not the notebook
    out = tmp_path / notebook.name
    before = git_status()
    papermill.execute_notebook(str(notebook), str(out), parameters={"profile": "tiny"},
                               cwd=str(paths.NOTEBOOKS_DIR), progress_bar=False, kernel_name="python3")
    assert git_status() == before, "executing the notebook changed files of the repository"
    text = out.read_text()
    assert '"output_type": "error"' not in text
    assert "(running)" not in text and "(cached)" not in text, "run progress leaked into the notebook"
    if "experiments.run_grid(" in notebook.read_text():
        assert " computed" in text and "(running)" in (tmp_path / "runs.log").read_text()
    if notebook.stem != "00-datasets":
        assert any((tmp_path / "figures").iterdir()), "the notebook saved no figure or table"
    if notebook.stem == "01-main-comparison":  # the forest plot and its rows
        forest = pd.read_csv(tmp_path / "figures" / "table2-forest.csv")
        assert (tmp_path / "figures" / "table2-forest.png").exists() and len(forest)
        assert not forest.duplicated(["dataset", "baseline", "settings"]).any()
        assert set(forest["settings"]) == {"default settings", "tuned alike"}  # the tiny profile tunes
        assert ((forest["CI low"] <= forest["ΔHR@50"]) & (forest["ΔHR@50"] <= forest["CI high"])).all()


def test_every_committed_notebook_was_executed_with_the_published_profile_and_its_default():
    """The committed notebooks are one build: papermill recorded the profile each was executed
    with, and it is the one `make paper` rebuilds by default (and the notebooks' own default)."""
    import json

    from attrec_lib.report import paper
    for nb in NOTEBOOKS:
        data = json.loads(nb.read_text())
        meta = data["metadata"].get("papermill") or {}
        assert meta.get("parameters", {}).get("profile") == paper.PUBLISHED_PROFILE, nb.name
        assert meta.get("exception") in (None, False), nb.name
        defaults = next(c for c in data["cells"] if "parameters" in c["metadata"].get("tags", []))
        assert f'profile = "{paper.PUBLISHED_PROFILE}"' in "".join(defaults["source"]), nb.name
