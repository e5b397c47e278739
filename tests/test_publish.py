"""``make paper`` never damages what is committed.

The kill tests clone this repository's HEAD into a temporary folder, start ``make paper
PROFILE=tiny PUBLISH=1`` there (the tiny profile would replace every committed notebook and
figure), stop it in the middle of a notebook, and check that ``git status`` shows nothing changed
and that no process of the build (runner, kernel) is left. They reuse this checkout's virtual
environment (``VENV=... NO_SETUP=1``) and point the run cache at a temporary folder (new cache
files are not what is under test). The staging tests check the publishing rule without a kernel.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from attrec_lib import paper, paths

VENV = Path(sys.executable).parent.parent


def git_status(repo) -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True,
                          check=True).stdout


def processes_in(folder: Path) -> list:
    """Pids of live processes whose working directory is inside ``folder`` (Linux /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(proc / "cwd"))
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (cwd == folder or folder in cwd.parents):
            found.append(int(proc.name))
    return found


@pytest.fixture
def clone(tmp_path):
    if shutil.which("git") is None or shutil.which("make") is None or not Path("/proc/self/cwd").exists():
        pytest.skip("needs git, make and /proc")
    pytest.importorskip("papermill")
    target = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(paths.REPO_ROOT), str(target)], check=True)
    assert git_status(target) == ""
    return target.resolve()


def start_paper(clone: Path, tmp_path: Path):
    env = {**os.environ, "ATTREC_RESULTS_DIR": str(tmp_path / "results")}
    env.pop("ATTREC_FIGURES_DIR", None)
    log = open(tmp_path / "paper.log", "w")
    # WORKERS=0: the runs are filled in this process, not on a Ray instance the test would have to stop
    proc = subprocess.Popen(["make", "paper", "PROFILE=tiny", "PUBLISH=1", "WORKERS=0", "NO_SETUP=1", f"VENV={VENV}"],
                            cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, tmp_path / "paper.log"


def wait_for(log: Path, text: str, proc, timeout: float = 240, after: str = "") -> None:
    """Wait until ``text`` is in the log (after the first ``after``, when given)."""
    deadline = time.time() + timeout

    def seen() -> bool:
        full = log.read_text()
        start = full.find(after) if after else 0
        return start >= 0 and text in full[start:]

    while not seen():
        assert proc.poll() is None, f"make paper ended early:\n{log.read_text()[-3000:]}"
        assert time.time() < deadline, f"{text!r} not seen in time:\n{log.read_text()[-3000:]}"
        time.sleep(0.5)


@pytest.mark.parametrize("how", ["SIGINT to the process group (Ctrl-C)", "SIGKILL to the process group",
                                 "SIGTERM to make alone", "SIGKILL to make alone"])
def test_killed_make_paper_leaves_tracked_files_as_committed(clone, tmp_path, how):
    proc, log = start_paper(clone, tmp_path)
    try:
        # The second notebook is executing: the first one is complete in the staging folder.
        wait_for(log, "] notebooks/01-main-comparison.ipynb (profile=tiny)", proc)
        # inside a cell of the second notebook (make paper filled the cache before the notebooks)
        wait_for(log, "Executing Cell 5", proc, after="] notebooks/01-main-comparison.ipynb (profile=tiny)")
        sig = signal.SIGINT if how.startswith("SIGINT") else signal.SIGKILL if how.startswith("SIGKILL") else signal.SIGTERM
        if how.endswith("make alone"):
            proc.send_signal(sig)
        else:
            os.killpg(proc.pid, sig)
        proc.wait(timeout=60)
        deadline = time.time() + 30  # after SIGKILL the kernel exits when it sees its parent gone
        while processes_in(clone) and time.time() < deadline:
            time.sleep(0.5)
        assert processes_in(clone) == [], f"left running after {how}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0
    assert git_status(clone) == "", f"tracked files changed after {how}:\n{log.read_text()[-3000:]}"
    if how != "SIGKILL to the process group":
        assert "nothing was published" in log.read_text()
        assert not list((clone / "build").glob(".paper-*")), "staging folder left behind"


# --- the publishing rule, without a kernel ---------------------------------------------------------

def fake_notebooks(folder: Path, names) -> list:
    folder.mkdir(parents=True)
    out = []
    for name in names:
        path = folder / name
        path.write_text(json.dumps({"committed": name}))
        out.append(path)
    return out


def paper_args(notebooks, profile="tiny", publish=True):
    import argparse
    return argparse.Namespace(notebooks=notebooks, profile=profile, fresh=False, publish=publish,
                              plan_only=False, kernel="python3", workers=0, address=None)


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A fake repository root, with papermill replaced by a function that writes one figure per
    notebook and fails on a notebook whose name contains 'bad'."""
    pm = pytest.importorskip("papermill")
    from papermill.exceptions import PapermillExecutionError
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", tmp_path / "notebooks")
    monkeypatch.setenv("ATTREC_FIGURES_DIR", str(tmp_path / "figures"))
    monkeypatch.setattr(paper, "print_plan", lambda profile: None)
    from attrec_lib import execution
    monkeypatch.setattr(execution, "fill_profile", lambda *args, **kwargs: 0)  # no runs: papermill is faked
    for var in ("ATTREC_FIGURES_DIR", "PYTHONPATH"):  # _build sets them for the kernel
        monkeypatch.setenv(var, os.environ.get(var, ""))

    def execute(source, output, parameters, **kwargs):
        name = Path(source).stem
        figures = Path(os.environ["ATTREC_FIGURES_DIR"])
        (figures / f"{name}.csv").write_text(f"new {parameters['profile']}")
        Path(output).write_text(json.dumps({"executed": name, **parameters}))
        if "bad" in name:
            raise PapermillExecutionError(0, 1, "raise ValueError", "ValueError", "boom", [])

    monkeypatch.setattr(pm, "execute_notebook", execute)
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "00-a.csv").write_text("committed")
    return tmp_path


def test_a_failing_notebook_publishes_nothing(sandbox):
    nbs = fake_notebooks(sandbox / "notebooks", ["00-a.ipynb", "01-bad.ipynb", "02-c.ipynb"])
    before = {p: p.read_text() for p in [*nbs, sandbox / "figures" / "00-a.csv"]}
    assert paper.run(paper_args(nbs)) == 1
    assert {p: p.read_text() for p in before} == before
    assert sorted(p.name for p in (sandbox / "figures").iterdir()) == ["00-a.csv"]
    assert json.loads((sandbox / "build" / "failed" / "01-bad.ipynb").read_text())["executed"] == "01-bad"
    assert not list((sandbox / "build").glob(".paper-*"))


def test_success_publishes_every_notebook_and_figure(sandbox):
    nbs = fake_notebooks(sandbox / "notebooks", ["00-a.ipynb", "01-b.ipynb"])
    assert paper.run(paper_args(nbs)) == 0
    assert json.loads(nbs[1].read_text()) == {"executed": "01-b", "profile": "tiny"}
    assert (sandbox / "figures" / "00-a.csv").read_text() == "new tiny"
    assert (sandbox / "figures" / "01-b.csv").read_text() == "new tiny"


def test_other_profile_writes_to_build_unless_published(sandbox):
    nbs = fake_notebooks(sandbox / "notebooks", ["00-a.ipynb"])
    assert paper.run(paper_args(nbs, profile="quick", publish=False)) == 0
    assert json.loads(nbs[0].read_text()) == {"committed": "00-a.ipynb"}
    assert (sandbox / "figures" / "00-a.csv").read_text() == "committed"
    assert json.loads((sandbox / "build" / "quick" / "notebooks" / "00-a.ipynb").read_text())["profile"] == "quick"
    assert (sandbox / "build" / "quick" / "figures" / "00-a.csv").read_text() == "new quick"
    assert paper.targets("full", False) == (paths.NOTEBOOKS_DIR, paths.figures_dir())
    assert paper.targets("standard", False)[0] == paths.REPO_ROOT / "build" / "standard" / "notebooks"
