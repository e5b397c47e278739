"""The README's words follow the numbers: its generated blocks are what the committed CSVs and
bench JSON files give, a changed number shows up as a difference, and the display helpers write
data sets, models and p-values the way a reader expects. Nothing tracked is written: every
rewrite goes to a copy under tmp_path."""
import shutil

import pandas as pd
import pytest

from attrec_lib.analysis import display
from attrec_lib.report import paper, readme
from attrec_lib.settings import paths

README = paths.REPO_ROOT / "README.md"
BENCH = paths.REPO_ROOT / "bench"


@pytest.fixture
def copy(tmp_path):
    """A copy of the committed README, figures/*.csv and bench/*.json."""
    figures = tmp_path / "figures"
    figures.mkdir()
    for f in paths.FIGURES_DIR.glob("*.csv"):
        shutil.copy(f, figures / f.name)
    shutil.copytree(BENCH, tmp_path / "bench")
    shutil.copy(README, tmp_path / "README.md")
    return tmp_path


def test_the_committed_readme_is_what_the_committed_files_give():
    diff = readme.check(README, paths.FIGURES_DIR, BENCH)
    assert diff == "", "README.md's generated blocks differ from figures/ and bench/ (run make readme):\n" + diff


def _change_a_number(figures):
    """Change AttRec's strongest RQ1 rival's HR@50 on ML-100K in verdict-tests.csv."""
    path = figures / "verdict-tests.csv"
    tests = pd.read_csv(path)
    row = tests.index[(tests["claim"] == "rq1") & (tests["set"] == "ml-100k") & (tests["metric"] == "HR@50")][0]
    old = tests.loc[row, "mean b"]
    tests.loc[row, "mean b"] = 0.4444
    tests.to_csv(path, index=False)
    return f"{old:.4f}"


def test_a_changed_number_changes_the_block_and_the_check_reports_it(copy):
    before = readme.findings_block(readme.load_tables(copy / "figures"))
    old = _change_a_number(copy / "figures")
    after = readme.findings_block(readme.load_tables(copy / "figures"))
    assert before != after and "0.4444" in after and "0.4444" not in before and old in before
    diff = readme.check(copy / "README.md", copy / "figures", copy / "bench")
    assert diff, "the check passed although a number changed"
    removed = [line for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert any(old in line for line in removed) and any("0.4444" in line for line in added)
    assert readme.main.__module__ == "attrec_lib.report.readme"


def test_a_changed_bench_number_changes_the_bench_block(copy):
    path = copy / "bench" / readme.BENCH_FILES["gpu"]
    text = path.read_text()
    bench = readme.load_bench(copy / "bench")
    first = bench["gpu"]["rows"][0]["epoch_s"]
    path.write_text(text.replace(repr(first), "9.87", 1))
    assert "9.87 s on ML-100K" in readme.bench_block(readme.load_bench(copy / "bench"))
    assert readme.check(copy / "README.md", copy / "figures", copy / "bench")


def test_only_the_text_between_the_markers_is_rewritten(copy):
    text = (copy / "README.md").read_text()
    begin, end = readme.markers("findings")
    outside_before = text.split(begin)[0] + text.split(end)[1]
    _change_a_number(copy / "figures")
    assert readme.write(copy / "README.md", copy / "figures", copy / "bench")
    new = (copy / "README.md").read_text()
    assert new != text and new.split(begin)[0] + new.split(end)[1] == outside_before
    assert not readme.write(copy / "README.md", copy / "figures", copy / "bench")  # a second run changes nothing


def test_a_readme_without_its_markers_is_one_error():
    with pytest.raises(ValueError, match="generated:findings:begin"):
        readme.replace_block("no markers here\n", "findings", "x")
    begin, end = readme.markers("findings")
    assert readme.replace_block(f"a\n{begin}\nold\n{end}\nb\n", "findings", "new") == f"a\n{begin}\nnew\n{end}\nb\n"


def test_make_paper_rewrites_the_readme_only_after_publishing_the_committed_files(copy, monkeypatch):
    monkeypatch.setattr(paths, "REPO_ROOT", copy)
    monkeypatch.setattr(paths, "FIGURES_DIR", copy / "figures")
    text = (copy / "README.md").read_text()
    _change_a_number(copy / "figures")
    assert paper.update_readme(copy / "build" / "quick" / "figures") == 0  # PROFILE=quick without PUBLISH
    assert (copy / "README.md").read_text() == text
    assert paper.update_readme(copy / "figures") == 0
    assert "0.4444" in (copy / "README.md").read_text()
    (copy / "figures" / "verdict.csv").unlink()
    assert paper.update_readme(copy / "figures") == 1  # one line, not a traceback


def test_each_claim_of_the_verdict_has_one_bullet_with_its_outcome():
    tables = readme.load_tables(paths.FIGURES_DIR)
    block = readme.findings_block(tables)
    bullets = [line for line in block.splitlines() if line.startswith("* **")]
    claims = tables["verdict"]
    assert len(bullets) == len(claims)
    for bullet, (claim, outcome) in zip(bullets, zip(claims["claim"], claims["outcome"])):
        assert bullet.startswith(f"* **{claim}**") and f"**{readme.outcome_word(outcome)}**" in bullet
        assert "](notebooks/" in bullet
    assert "ml-100k" not in block and "ml-1m-first2999" not in block and "e-0" not in block


def test_outcome_sets_with_commas_are_read_whole():
    sets = ["ml-100k, shuffled ties", "lastfm, shuffled ties"]
    assert readme.set_groups("partly (pass: ml-100k, shuffled ties; fail: lastfm, shuffled ties)", sets) == {
        "pass": ["ml-100k, shuffled ties"], "fail": ["lastfm, shuffled ties"]}
    assert readme.set_groups("holds", sets) == {"pass": sets}
    with pytest.raises(ValueError, match="not one of the sets"):
        readme.set_groups("no (fail: garden)", sets)


def test_p_values_read_as_a_reader_expects():
    assert display.p_text(0.7033) == "p = 0.70"
    assert display.p_text(0.0031) == "p = 0.003"
    assert display.p_text(6.8e-24) == "p < 0.001"
    assert display.p_text(0.00099) == "p < 0.001"
    assert display.p_text(1.0) == "p = 1.00"
    assert display.p_text(0.0495) == "p = 0.050"  # near the level: never "0.05" for a p below it
    assert display.p_value(float("nan")) == "–"
    with pytest.raises(ValueError):
        display.p_text(1.5)


def test_data_sets_and_models_have_display_names():
    assert display.dataset_name("ml-100k") == "ML-100K"
    assert display.dataset_name("lastfm") == "LastFM"
    assert display.dataset_name("ml-1m-first2999") == "ML-1M stand-in (users 1-2999)"
    assert display.dataset_name("movietweetings-snapshot-100k") == "MovieTweetings stand-in"
    assert display.dataset_name("not-a-set") == "not-a-set"
    assert display.model_name("lstm_plus") == "LSTM+" and display.model_name("LSTM+") == "LSTM+"
    assert display.readable_names("no (fail: lastfm L=3, ml-1m-first2999; no evidence: ml-100k d=10)") == (
        "no (fail: LastFM at L = 3, ML-1M stand-in (users 1-2999); no evidence: ML-100K at d = 10)")


def test_notebook_10s_questions_in_the_verdict_link_notebook_10_and_are_not_counted_as_claims(copy):
    from attrec_lib.analysis import repeats
    path = copy / "figures" / "verdict.csv"
    claims = pd.read_csv(path)
    claims = claims[~claims["claim"].isin(repeats.QUESTIONS)]  # the committed table may hold them already
    extra = {c: "–" for c in claims.columns}
    extra.update({"claim": repeats.QUESTIONS[0], "outcome": "yes (on: lastfm)", "source": "beyond the paper",
                  "evidence": "lastfm: baseline better (EASE) -> no significant difference (EASE) on novel test targets only"})
    pd.concat([claims, pd.DataFrame([extra])], ignore_index=True).to_csv(path, index=False)
    block = readme.findings_block(readme.load_tables(copy / "figures"))
    bullet = next(line for line in block.splitlines() if line.startswith(f"* **{repeats.QUESTIONS[0]}**"))
    assert "**yes**" in bullet and "LastFM: baseline better (EASE) becomes no significant difference" in bullet
    assert "(notebooks/10-repeats-and-timeline.ipynb)" in bullet
    assert f"{len(claims)} claims:" in block and "notebook 10's 1 question on" in block


def test_a_changed_table1_size_changes_the_datasets_block(copy):
    path = copy / "figures" / "table1-datasets.csv"
    t1 = pd.read_csv(path)
    t1.loc[t1["dataset"] == "lastfm", "users"] = 935
    t1.to_csv(path, index=False)
    block = readme.datasets_block(readme.load_tables(copy / "figures"))
    assert "* LastFM: 935 users" in block
    assert "935 users" in readme.check(copy / "README.md", copy / "figures", copy / "bench")


def test_an_unchanged_answer_reads_stays_so_and_a_changed_one_becomes():
    from attrec_lib.report.readme import _before_after
    assert _before_after("lastfm: baseline better (EASE) -> baseline better (EASE) on the global timeline") == (
        "lastfm: baseline better (EASE) stays so on the global timeline")
    assert _before_after("ml-100k: no significant difference (TransRec) -> baseline better (TransRec) on the "
                         "global timeline") == ("ml-100k: no significant difference (TransRec) becomes baseline "
                                                "better (TransRec) on the global timeline")
    # a baseline named differently after is a change, even with the same answer
    assert "becomes" in _before_after("lastfm: baseline better (EASE) -> baseline better (SKNN) on novel targets")


def test_a_set_run_at_another_sets_choices_is_named_so_in_rq1s_tuning_sentence(copy):
    """A data set of a profile's tuned_from has "chosen on <source>" rows in the tuned table; the RQ1
    bullet says so instead of calling them tuned there (and leaves them out if no such row exists)."""
    path = copy / "figures" / "table2-comparison-tuned.csv"
    tuned = pd.read_csv(path)
    att = tuned[(tuned["model"] == "AttRec") & (tuned["dataset"] == "lastfm")].copy()
    att = att.assign(dataset="ml-1m-first2999")
    att.loc[att["settings"] == "tuned", "settings"] = "chosen on ML-100K"
    pd.concat([tuned[tuned["dataset"] != "ml-1m-first2999"], att]).to_csv(path, index=False)
    block = readme.findings_block(readme.load_tables(copy / "figures"))
    rq1 = next(line for line in block.splitlines() if line.startswith("* **RQ1: AttRec beats every baseline"))
    ml1m = display.dataset_name("ml-1m-first2999")
    assert f"on {ml1m} (at the settings chosen on ML-100K)" in rq1
    assert f"tunes every learned model alike (on {ml1m} at the settings chosen on ML-100K)" in rq1
    assert f"on {display.dataset_name('lastfm')}" in rq1.split("tuning moved")[1]  # its own tuned set as before
