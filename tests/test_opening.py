"""Each notebook opens with at most five bullets of what it found, written from the verdict's rows
and the notebook's tables (attrec_lib/report/opening.py): a changed number changes the line, a
set with no evidence names the baseline the verdict tested there, and every committed notebook
shows its bullets before its first table or figure. Reads the committed figures/*.csv; writes nothing."""
import json

import numpy as np
import pandas as pd
import pytest

from attrec_lib.analysis import verdict
from attrec_lib.analysis.display import dataset_name
from attrec_lib.report import opening, readme
from attrec_lib.settings import paths


@pytest.fixture
def committed():
    tables = readme.load_tables(paths.FIGURES_DIR)
    claims = tables["verdict"].copy()
    claims["claim_id"] = claims["claim"].map(verdict.claim_ids())
    return claims.set_index("claim_id", drop=False), tables["verdict-tests"]


def test_bullets_are_capped_at_five_and_say_when_there_is_nothing():
    assert opening.bullets(["a", "b"]).endswith("\n\n* a\n* b")
    assert "nothing in this profile" in opening.bullets(["", None])
    with pytest.raises(ValueError, match="6 opening bullets"):
        opening.bullets(list("abcdef"))


def test_a_claim_line_carries_the_deciding_comparison_and_follows_a_changed_number(committed):
    claims, tests = committed
    line = opening.claim_line(claims.loc["rq1"].to_dict(), tests, "rq1")
    groups = readme.set_groups(claims.loc["rq1", "outcome"], tests.loc[tests["claim"] == "rq1", "set"])
    assert line.startswith(f"*{claims.loc['rq1', 'claim']}*: **{readme.outcome_word(claims.loc['rq1', 'outcome'])}**.")
    mine = tests[(tests["claim"] == "rq1") & tests["in the family"].astype(bool)]
    for s in groups.get("fail", []):
        rows = mine[mine["set"] == s]
        sig = rows[[p < 0.05 for p in rows["p (Holm)"]]]
        r = sig.iloc[0]
        assert f"{dataset_name(s)} (AttRec {r['mean a']:.4f} vs {r['b']} {r['mean b']:.4f} {r['metric']}" in line
        changed = tests.copy()
        changed.loc[r.name, "mean b"] = 0.4444
        after = opening.claim_line(claims.loc["rq1"].to_dict(), changed, "rq1")
        assert "0.4444" in after and "0.4444" not in line and after != line
    for s in groups.get("no evidence", []):  # named with the baseline tested first there, the strongest
        strongest = mine[mine["set"] == s].iloc[0]["b"]
        assert f"{dataset_name(s)} (against {strongest})" in line


def test_figure5_sets_without_evidence_are_grouped_per_data_set(committed):
    claims, tests = committed
    line = opening.claim_line(claims.loc["dims"].to_dict(), tests, "dims")
    assert " d=" not in line and "at d = " in line


def test_a_claim_without_comparisons_reads_its_first_sentence(committed):
    claims, tests = committed
    line = opening.claim_line(claims.loc["released"].to_dict(), tests, "released")
    ours = float(str(claims.loc["released", "evidence"]).split("ours ")[1].split(" ")[0])
    assert f"{ours:.4f}" in line and line.count(". ") <= 3


def test_a_profile_without_the_claims_runs_says_so():
    row = {"claim": "C", "outcome": "not tested", "evidence": "no runs of this claim in this profile"}
    empty = pd.DataFrame(columns=["claim", "set", "in the family"])
    assert opening.claim_line(row, empty, "aggregation").startswith("*C*: **not tested**.")


def test_dataset_lines_follow_table1():
    table = pd.DataFrame({"dataset": ["ml-100k", "lastfm", "ml-1m-first2999", "amazon-patio-lawn-garden"],
                          "users": [943, 1000, 2999, np.nan], "paper_users": [943, 1015, np.nan, 1686],
                          "diff_users": [0, -15, np.nan, np.nan], "diff_items": [0, -3, np.nan, np.nan],
                          "diff_interactions": [0, -40, np.nan, np.nan], "tied_pairs_pct": [51.04, 89.8, 53.5, np.nan]})
    lines = opening.dataset_lines(table)
    assert lines[0].startswith("2 of the paper's data sets could be read here (ML-100K and LastFM), and 1 labelled")
    assert "LastFM (-15 users, -3 items, -40 interactions)" in lines[1] and "equal to the paper's: ML-100K" in lines[1]
    assert "1 (Garden)" in lines[2] and "51.0% on ML-100K" in lines[3]


def test_verdict_lines_count_the_papers_claims_and_list_ours_apart():
    claims = pd.DataFrame({"claim": ["A", "B", "C", "D", "E"], "source": ["paper"] * 4 + ["beyond the paper"],
                           "outcome": ["holds", "no (fail: x)", "reproducible under the paper's protocol",
                                       "no evidence (within seed noise)", "yes (on: lastfm)"]})
    lines = opening.verdict_lines(claims)
    assert lines[0] == "Of the paper's 3 claims tested here, 1 holds, 1 does not hold and 1 has no evidence either way."
    assert "Hold: A." in lines and "Do not hold: B." in lines and lines[-1] == "Beyond the paper: E: **yes**."


def test_every_committed_notebook_opens_with_its_bullets():
    for path in sorted(paths.REPO_ROOT.glob("notebooks/[0-9][0-9]-*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        at = [i for i, c in enumerate(cells) if "opening.bullets(" in "".join(c["source"])]
        assert len(at) == 1, f"{path.name}: {len(at)} opening cells"
        shown = [i for i, c in enumerate(cells) if c["cell_type"] == "code"
                 and any(o.get("output_type") in ("display_data", "execute_result") for o in c.get("outputs", []))]
        assert shown[0] == at[0], f"{path.name}: cell {shown[0]} displays something before the opening bullets"
        text = "".join("".join(o["data"]["text/markdown"]) for o in cells[at[0]]["outputs"] if "text/markdown" in o.get("data", {}))
        assert text.startswith(opening.TITLE), path.name
        n = sum(line.startswith("* ") for line in text.splitlines())
        assert 1 <= n <= opening.MAX_BULLETS, f"{path.name}: {n} bullets"
