"""Every test runs with its own results and figures folders and run log, so that no test can
write into the tracked results/ or figures/ (a test that needs the committed cache points the
variables back itself)."""
import signal

import pytest

# A test run started in the background of a non-interactive shell (`make test &`, nohup) inherits
# SIGINT ignored, and so would every process the tests start: the Ctrl-C tests would then send a
# signal nobody hears. A handler here (not an ignored disposition) is reset to the default in each
# child at exec, so the children hear Ctrl-C as in a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _isolated_outputs(tmp_path_factory, monkeypatch):
    root = tmp_path_factory.mktemp("outputs")
    monkeypatch.setenv("ATTREC_RESULTS_DIR", str(root / "results"))
    monkeypatch.setenv("ATTREC_FIGURES_DIR", str(root / "figures"))
    monkeypatch.setenv("ATTREC_RUN_LOG", str(root / "runs.log"))
