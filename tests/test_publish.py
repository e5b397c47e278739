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

from attrec_lib.report import paper
from attrec_lib.study import all_runs
from attrec_lib.settings import paths

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
    proc = subprocess.Popen(["make", "paper", "PROFILE=tiny", "PUBLISH=1", "ALLOW_MISSING_DATA=1", "WORKERS=0",
                             "NO_SETUP=1", f"VENV={VENV}"],
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
                              plan_only=False, kernel="python3", workers=0, address=None, allow_missing_data=False)


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A fake repository root, with papermill replaced by a function that writes one figure per
    notebook and fails on a notebook whose name contains 'bad'."""
    pm = pytest.importorskip("papermill")
    from papermill.exceptions import PapermillExecutionError
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(paths, "NOTEBOOKS_DIR", tmp_path / "notebooks")
    monkeypatch.setattr(paths, "FIGURES_DIR", tmp_path / "figures")  # the committed figures
    monkeypatch.setattr(paper, "print_plan", lambda profile: None)
    monkeypatch.setattr(all_runs, "fill_profile", lambda *args, **kwargs: 0)  # no runs: papermill is faked
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
    assert paper.targets("full", False) == (paths.NOTEBOOKS_DIR, paths.FIGURES_DIR)
    assert paper.targets("standard", False)[0] == paths.REPO_ROOT / "build" / "standard" / "notebooks"


# --- issue 24: publishing all or nothing, data sets, stable form ----------------------------------

def test_a_publish_that_fails_midway_leaves_every_target_as_it_was(sandbox, monkeypatch, capsys):
    nbs = fake_notebooks(sandbox / "notebooks", ["00-a.ipynb", "01-b.ipynb", "02-c.ipynb"])
    before = {p: p.read_text() for p in [*nbs, sandbox / "figures" / "00-a.csv"]}
    real, moved = paper._move_into_place, []

    def fail_on_the_fourth(source, target):
        if len(moved) == 3:
            raise OSError(28, "No space left on device", str(target))
        real(source, target)
        moved.append(target)

    monkeypatch.setattr(paper, "_move_into_place", fail_on_the_fourth)
    assert paper.run(paper_args(nbs)) == 1
    said = capsys.readouterr().err.strip().splitlines()[-1]  # and says so (it was the bare OSError)
    assert "publishing failed" in said and "No space left" in said and "nothing was published" in said
    assert len(moved) == 3  # three files had been replaced, then put back
    assert {p: p.read_text() for p in before} == before
    assert sorted(p.name for p in (sandbox / "figures").iterdir()) == ["00-a.csv"]  # new figures removed
    assert not (sandbox / "build" / paper.JOURNAL_NAME).exists()


def test_a_publish_killed_midway_is_rolled_back_by_the_next_build(tmp_path, monkeypatch):
    """A process publishing three files is SIGKILLed while replacing the third: the journal is
    left, two targets are new; the next build's recovery puts all three back as they were."""
    targets = [tmp_path / "t" / f"{i}.txt" for i in range(3)]
    targets[0].parent.mkdir()
    for t in targets[:2]:
        t.write_text(f"old {t.name}")
    (tmp_path / "stage").mkdir()
    sources = [tmp_path / "stage" / f"{i}.txt" for i in range(3)]
    for source in sources:
        source.write_text("new")
    script = f"""
import os, signal
from pathlib import Path
from attrec_lib.report import paper
from attrec_lib.settings import paths
paths.REPO_ROOT = Path({str(tmp_path)!r})
real, calls = paper._move_into_place, []
def killed_on_the_third(source, target):
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    real(source, target)
    calls.append(target)
paper._move_into_place = killed_on_the_third
pairs = list(zip({[str(s) for s in sources]!r}, {[str(t) for t in targets]!r}))
paper.publish_all(pairs, Path({str(tmp_path / "stage" / "backup")!r}))
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=paths.REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert [t.read_text() if t.exists() else None for t in targets] == ["new", "new", None]
    assert (tmp_path / "build" / paper.JOURNAL_NAME).exists()
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    assert paper.recover_interrupted_publish()
    assert [t.read_text() if t.exists() else None for t in targets] == ["old 0.txt", "old 1.txt", None]
    assert not paper.recover_interrupted_publish()  # the journal is gone


def write_table1(folder: Path, rows) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["dataset,paper_name,users,items"] + [f"{d},{d.upper()},{u},{u}" for d, u in rows]
    (folder / "table1-datasets.csv").write_text("\n".join(lines) + "\n")


def test_publishing_a_profile_that_lacks_committed_data_sets_refuses_naming_them(sandbox):
    write_table1(sandbox / "figures", [("ml-100k", "943"), ("lastfm", "936"), ("ml-1m", "")])
    assert paper.committed_datasets() == ["ml-100k", "lastfm"]  # ml-1m was absent when committed
    nbs = fake_notebooks(sandbox / "notebooks", ["00-a.ipynb"])
    before = nbs[0].read_text()
    with pytest.raises(ValueError, match=r"committed notebooks have data set\(s\) ml-100k, lastfm.*ALLOW_MISSING_DATA"):
        paper.run(paper_args(nbs))  # the tiny profile has the synthetic set only
    assert nbs[0].read_text() == before
    assert paper.run(_with(paper_args(nbs), allow_missing_data=True)) == 0
    assert json.loads(nbs[0].read_text())["executed"] == "00-a"


def _with(ns, **changes):
    for key, value in changes.items():
        setattr(ns, key, value)
    return ns


def test_the_plan_names_absent_data_sets_and_no_data_at_all_is_one_error(tmp_path, monkeypatch, capsys):
    from attrec_lib.report import cli
    from attrec_lib.data import dataset_names
    monkeypatch.setattr(paths, "RAW_DIR", tmp_path / "raw")  # nothing downloaded in this checkout
    mirror = tmp_path / "mirror"
    (mirror / "ml-100k").mkdir(parents=True)
    shared = Path(os.environ.get("ATTREC_DATA_MIRROR") or paths.REPO_ROOT / "shared-data") / "ml-100k" / "u.data"
    if not shared.is_file():
        pytest.skip("needs the raw ML-100K file in ATTREC_DATA_MIRROR")
    (mirror / "ml-100k" / "u.data").symlink_to(shared)
    monkeypatch.setenv("ATTREC_DATA_MIRROR", str(mirror))
    absent = paper.absent_datasets("full")
    assert "ml-100k" not in absent and "lastfm" in absent and len(absent) == len(dataset_names()) - 1
    assert cli.main(["plan", "--profile", "quick"]) == 0
    assert cli.main(["plan", "--profile", "full"]) == 0
    out = capsys.readouterr().out
    assert f"absent data sets, left out of this plan (no raw files here): {', '.join(absent)}" in out
    (mirror / "ml-100k" / "u.data").unlink()
    for command in (["plan", "--profile", "full"], ["grid", "--profile", "quick", "--list"]):
        assert cli.main(command) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "has no data set available" in err[0] and "ATTREC_DATA_MIRROR" in err[0], err


def test_stable_form_strips_timings_and_fixes_the_injected_cell_id():
    def executed(stamp: str, random_id: str) -> dict:
        timing = {"duration": 0.1, "start_time": stamp, "end_time": stamp, "status": "completed", "exception": False}
        return {"metadata": {"papermill": {"duration": 9.5, "start_time": stamp, "end_time": stamp,
                                           "parameters": {"profile": "tiny"}, "output_path": "/elsewhere/x.ipynb"}},
                "cells": [{"id": "nb01-01", "cell_type": "code", "source": "profile = 'full'",
                           "metadata": {"tags": ["parameters"], "execution": {"iopub.status.busy": stamp},
                                        "papermill": dict(timing)}, "outputs": []},
                          {"id": random_id, "cell_type": "code", "source": "profile = 'tiny'",
                           "metadata": {"tags": ["injected-parameters"], "papermill": dict(timing)}, "outputs": []}]}
    a = paper.stable_form(executed("2026-01-01T00:00:00", "944f95ee"), "01-x.ipynb", "notebooks/01-x.ipynb")
    b = paper.stable_form(executed("2026-12-31T23:59:59", "1234abcd"), "01-x.ipynb", "notebooks/01-x.ipynb")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert a["cells"][1]["id"] == "nb01-01-injected"
    assert "2026" not in json.dumps(a)
    assert a["metadata"]["papermill"] == {"parameters": {"profile": "tiny"}, "output_path": "notebooks/01-x.ipynb"}
    assert a["cells"][0]["metadata"]["papermill"] == {"status": "completed", "exception": False}


def test_stable_form_joins_a_print_split_over_two_stream_messages():
    def cell(*texts):
        return {"id": "c", "cell_type": "code", "metadata": {}, "source": "",
                "outputs": [{"name": "stdout", "output_type": "stream", "text": t} for t in texts]
                + [{"output_type": "display_data", "data": {"text/plain": ["x"]}, "metadata": {}},
                   {"name": "stdout", "output_type": "stream", "text": ["after\n"]}]}
    one = paper.stable_form({"metadata": {}, "cells": [cell(["36 runs: 36 from the cache\n", "b\n"])]}, "x")
    two = paper.stable_form({"metadata": {}, "cells": [cell(["36 runs: 36 from the cache"], ["\n", "b\n"])]}, "x")
    assert one == two
    outputs = one["cells"][0]["outputs"]
    assert outputs[0]["text"] == ["36 runs: 36 from the cache\n", "b\n"]
    assert [o["output_type"] for o in outputs] == ["stream", "display_data", "stream"]  # not across other outputs


def test_make_paper_twice_from_the_cache_leaves_git_status_clean(clone, tmp_path):
    """A rebuild is byte for byte the build before it: the second ``make paper`` (tiny profile,
    everything cached by the first) changes no tracked file. Two notebooks (a table notebook and
    the one with images) keep it short; CI rebuilds every committed notebook the same way."""
    env = {**os.environ, "ATTREC_RESULTS_DIR": str(tmp_path / "results")}
    env.pop("ATTREC_FIGURES_DIR", None)
    command = ["make", "paper", "PROFILE=tiny", "PUBLISH=1", "ALLOW_MISSING_DATA=1", "WORKERS=0", "NO_SETUP=1",
               f"VENV={VENV}", "NOTEBOOKS=notebooks/01-main-comparison.ipynb notebooks/04-attention-heatmaps.ipynb"]
    first = subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert git_status(clone) != ""  # the tiny build replaced the committed (full) notebooks
    subprocess.run(["git", "add", "-A"], cwd=clone, check=True)  # a figure new to this build is part of it too
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tiny build"], cwd=clone,
                   check=True)
    second = subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "0 to compute" in second.stdout, second.stdout[-2000:]
    diff = subprocess.run(["git", "diff", "--stat"], cwd=clone, capture_output=True, text=True).stdout
    assert git_status(clone) == "", f"the rebuild from the cache changed tracked files:\n{diff}"


def test_stable_form_records_the_source_relative_to_the_repo_whatever_the_checkout_folder():
    def executed(checkout: str) -> dict:
        return {"metadata": {"papermill": {"input_path": f"{checkout}/notebooks/01-x.ipynb", "output_path": "/elsewhere/x.ipynb"}},
                "cells": []}
    forms = [paper.stable_form(executed(c), "01-x.ipynb", "notebooks/01-x.ipynb", "notebooks/01-x.ipynb")
             for c in ("/one/checkout", "/another/clone/elsewhere")]
    assert forms[0] == forms[1] and forms[0]["metadata"]["papermill"]["input_path"] == "notebooks/01-x.ipynb"
