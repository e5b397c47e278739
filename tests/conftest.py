"""Every test runs with its own results and figures folders and run log, so that no test can
write into the tracked results/ or figures/ (a test that needs the committed cache points the
variables back itself)."""
import pytest


@pytest.fixture(autouse=True)
def _isolated_outputs(tmp_path_factory, monkeypatch):
    root = tmp_path_factory.mktemp("outputs")
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(root / "results"))
    monkeypatch.setenv("ATTREC_FIGURES_DIR", str(root / "figures"))
    monkeypatch.setenv("ATTREC_RUN_LOG", str(root / "runs.log"))
