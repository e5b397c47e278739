"""make site: one page per notebook, an index with the verdict table, the forest plot, findings,
artifact links and every CSV; make site-test's checker catches broken images, broken links, console
errors, a verdict table that lost a row, a CSV left unlinked and missing navigation."""
import html
import shutil

import pandas as pd

import pytest

from attrec_lib.report import site
from attrec_lib.settings import paths


def test_site_has_a_page_per_notebook_and_an_index_linking_them(tmp_path, monkeypatch):
    monkeypatch.delenv("ATTREC_FIGURES_DIR")  # the site is built from the committed figures (read only)
    pages = site.build(tmp_path / "site")
    names = [p.stem for p in site.notebooks()]
    assert pages == ["index.html"] + [f"{n}.html" for n in names]
    index = (tmp_path / "site" / "index.html").read_text()
    for name in names:
        assert f'href="{name}.html"' in index
        assert "cdnjs" not in (tmp_path / "site" / f"{name}.html").read_text()  # nothing fetched from the network
    assert index.count("<strong>Findings.</strong>") >= len(names) - 1
    assert ">outcome</th>" in index and 'href="figures/table2-comparison.csv"' in index
    claims = pd.read_csv(paths.FIGURES_DIR / "verdict.csv")["claim"]
    assert len(claims) > 0 and all(html.escape(c, quote=False) in index for c in claims)  # one row per claim
    assert index.count('<tr class="claim">') == len(claims) and index.count("<details id=\"claim-") == len(claims)
    assert index.index('id="verdict"') < index.index("<h2>The paper's artifacts</h2>")  # the verdict first
    for csv in sorted(paths.FIGURES_DIR.glob("*.csv")):
        assert f'href="figures/{csv.name}"' in index.split('<h2 id="data">')[1]
    forest = paths.FIGURES_DIR / site.FOREST
    assert (f'src="figures/{site.FOREST}"' in index) == forest.exists()
    for i, name in enumerate(names):
        body = (tmp_path / "site" / f"{name}.html").read_text()
        assert body.count('href="index.html" rel="index"') == 2
        assert body.count(f'href="{names[i - 1]}.html" rel="prev"' if i else 'rel="prev"') == (2 if i else 0)
        assert body.count(f'href="{names[i + 1]}.html" rel="next"' if i + 1 < len(names) else 'rel="next"') == (
            2 if i + 1 < len(names) else 0)
    for href in ("figures/figure4a-omega.png", "figures/verdict.csv"):
        assert (tmp_path / "site" / href).exists()


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_site_check_reports_a_broken_image_a_broken_link_and_a_console_error(tmp_path):
    pytest.importorskip("playwright")
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text(
        '<html><head><link rel="icon" href="data:,"></head><body><a href="page.html">ok</a>'
        '<a href="missing.html">broken</a></body></html>')
    (root / "page.html").write_text(
        '<html><head><link rel="icon" href="data:,"></head><body><img src="nothing.png">'
        '<script>console.error("boom")</script></body></html>')
    problems = site.check(root, tmp_path / "shots")
    assert any("index.html: broken link missing.html" in p for p in problems)
    assert any("page.html: image does not load" in p for p in problems)
    assert any("page.html: console error: boom" in p for p in problems)
    assert sorted(p.name for p in (tmp_path / "shots").iterdir()) == ["index.png", "page.png"]
    (root / "index.html").write_text('<html><head><link rel="icon" href="data:,"></head><body>'
                                     '<a href="page.html">ok</a></body></html>')
    (root / "page.html").write_text('<html><head><link rel="icon" href="data:,"></head><body>fine</body></html>')
    assert site.check(root, tmp_path / "shots") == []


def test_one_sentence_why_names_the_sets_in_display_names():
    rows = site.verdict_rows(paths.FIGURES_DIR)
    committed = pd.read_csv(paths.FIGURES_DIR / "verdict.csv")
    assert [r["claim"] for r in rows] == committed["claim"].tolist()
    for r, outcome in zip(rows, committed["outcome"]):
        assert r["why"].endswith(".") and "ml-100k" not in r["why"] and "lastfm" not in r["why"]
        if outcome.startswith("partly (pass: "):
            assert r["why"].startswith("Holds on ") and "fails on" in r["why"] or "no evidence on" in r["why"]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_site_check_fails_on_the_built_site_with_a_csv_missing_a_verdict_row_lost_or_navigation_gone(
        tmp_path, monkeypatch):
    """The study's own checks on a real build: it passes, then each defect put into a copy is named."""
    pytest.importorskip("playwright")
    monkeypatch.delenv("ATTREC_FIGURES_DIR")
    root = tmp_path / "site"
    pages = site.build(root)
    assert site.check(root, tmp_path / "shots") == []
    csv = sorted((root / "figures").glob("*.csv"))[0]
    csv.unlink()  # (a) a CSV link that no longer resolves
    index = (root / "index.html").read_text()
    start = index.index('<tr class="claim">')
    (root / "index.html").write_text(index[:start] + index[index.index("</tr>", start) + 5:])  # (b) one row lost
    page = root / pages[2]
    text = page.read_text().replace('rel="prev"', 'rel="nofollow"')  # (c) no way back
    assert 'src="data:image/png;base64,' in text  # the notebook's figures are embedded in its page
    page.write_text(text.replace('src="data:image/png;base64,', 'src="data:image/png;base64,AAAA', 1))  # (d)
    problems = site.check(root, tmp_path / "shots")
    rows = len(pd.read_csv(root / "figures" / "verdict.csv"))
    assert any(f"broken link figures/{csv.name} (HTTP 404)" in p for p in problems), problems
    assert f"index.html: the verdict table has {rows - 1} rows, figures/verdict.csv has {rows}" in problems
    assert any(p.startswith(f"{pages[2]}: navigation link 'prev {pages[1]}' appears 0 times") for p in problems)
    assert any(p.startswith(f"{pages[2]}: image does not load") for p in problems), problems
