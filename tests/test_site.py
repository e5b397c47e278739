"""make site: one page per notebook, an index with findings, verdict and artifact links; make
site-test's checker catches broken images, broken links and console errors."""
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
