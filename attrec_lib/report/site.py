"""``make site`` and ``make site-test``: the study as a static HTML site, checked in a real browser.

Usage::

    python -m attrec_lib.report.site build [--out build/site]
    python -m attrec_lib.report.site check [--out build/site] [--docs]

``build`` renders every committed notebook (as executed by ``make paper``; nothing is run) with
nbconvert's HTML exporter and a small template (``site_template/attrec``: JupyterLab's look
without the scripts it would fetch from the network; previous / index / next links at the top and
bottom of every page), copies ``figures/`` (PNG, PDF, CSV) beside them and writes an index: the
verdict as a table first (one row per row of ``figures/verdict.csv``: claim, outcome, one sentence
why, the notebook with the evidence; each claim's long text, from readme.claim_bullet and the
verdict's rule, test, evidence and p-values, in a ``<details>`` below), notebook 01's forest plot,
each notebook's findings paragraph with its files, and "Data behind the figures": every CSV with
the notebook that writes it (found by :func:`_artifacts`, the one scan of the notebooks' code).
nbconvert is chosen because it already comes with
the pinned ``jupyter`` (no new dependency, works offline) and renders exactly the outputs nbval
checks; mkdocs-jupyter or Jupyter Book would add a second configuration and toolchain for the
same pages.

``check`` serves the site on loopback and opens every page in headless Chromium (Playwright with
the system's ``chromium``): every image must load (naturalWidth > 0), every internal link must
resolve (every CSV link among them), no page may show error or stderr output, no console error may
occur; on a site built here (a ``figures/`` beside the pages) the index's verdict table must have
one row per row of ``figures/verdict.csv``, link every CSV and show the forest plot when it exists,
and every notebook page must link the index and its previous and next pages (:func:`_study_checks`); it saves one
screenshot per page under ``<out>-screenshots/`` (and with ``--docs`` copies the index's and the
Figure 4 page's to ``docs/``).
"""
from __future__ import annotations

import argparse
import functools
import html
import json
import os
import re
import shutil
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pandas as pd

from ..analysis import repeats, verdict
from ..analysis.display import p_text, readable_names
from ..settings import paths
from . import readme

TEMPLATE_DIR = Path(__file__).resolve().parent / "site_template"
# Chromium's flags for a headless run with no network besides loopback.
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync")
FIGURE4_PAGE = "05-omega-and-length.html"


def notebooks() -> list:
    return sorted(paths.NOTEBOOKS_DIR.glob("[0-9][0-9]-*.ipynb"))


def _title(nb: dict, fallback: str) -> str:
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            first = "".join(cell["source"]).strip().splitlines()[0]
            return first.lstrip("# ").strip()
    return fallback


def _tagged_markdown(nb: dict, tag: str) -> str:
    """The Markdown output of the cell tagged ``tag`` (findings, conclusion), or ""."""
    for cell in nb["cells"]:
        if tag in cell.get("metadata", {}).get("tags", []):
            for out in cell.get("outputs", []):
                text = out.get("data", {}).get("text/markdown")
                if text:
                    return "".join(text)
    return ""


def _artifacts(nb: dict, figures: list) -> list:
    """The files under figures/ that a notebook writes: their stem appears quoted in its code."""
    code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    return [f for f in figures if f'"{f.stem}"' in code]


def _markdown(text: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    return markdown2html_mistune(text)


FOREST = "table2-forest.png"  # notebook 01's forest plot, the index's figure
VERDICT_COLUMNS = ("claim", "outcome", "why", "evidence")  # the index's verdict table, in this order
# The verdict's long text per claim, shown in its <details> (the column's label for a reader).
LONG_COLUMNS = (("rule", "Rule"), ("test and metric", "Test and metric"), ("evidence", "Evidence"),
                ("raw p", "p (raw)"), ("Holm p", "p (Holm)"), ("paper says", "The paper says"),
                ("paper's number", "The paper's number"), ("source", "Source"))


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=\.)\s+(?=[A-Z])", text.strip(), maxsplit=1)[0]


def _why(row: dict, mine: pd.DataFrame, long_why: str) -> tuple:
    """(one sentence why, True when it names the outcome's sets). An outcome that lists its sets
    ("partly (pass: a; fail: b)"): where the claim holds, fails or has no evidence (readme.set_groups
    over the claim's tested sets, in display names); any other (holds, no evidence, the protocol
    check, notebook 10's questions): the first sentence of the README's text for the claim."""
    sets = list(dict.fromkeys(mine.loc[mine["in the family"].astype(bool), "set"])) if len(mine) else []
    listed = re.search(r"\((pass|fail|no evidence): .*\)\s*$", str(row["outcome"]))
    groups = readme.set_groups(row["outcome"], sets) if sets and listed else {}
    parts = [f"{readme.GROUP_WORDS[k]} {readme._join([readable_names(s) for s in groups[k]])}"
             for k in ("pass", "fail", "no evidence") if groups.get(k)]
    text = "; ".join(parts) if parts else _first_sentence(long_why)
    text = text[:1].upper() + text[1:]
    return (text if text.endswith(".") else text + "."), bool(parts)


def _p_list(text) -> str:
    """The verdict's p column ("ml-100k (without, HR@50): 0.1; ...") in display names and p-values."""
    if pd.isna(text):
        return "–"
    out = []
    for part in str(text).split("; "):
        label, _, value = part.rpartition(": ")
        try:
            out.append(f"{readable_names(label)}: {p_text(float(value))}")
        except ValueError:
            out.append(readable_names(part))
    return "; ".join(out)


def verdict_rows(figures: Path) -> list:
    """One dict per row of ``figures/verdict.csv``, in its order: the claim, its outcome word, one
    sentence why, the notebook with its evidence, and the long text (readme.claim_bullet's, then the
    verdict's rule, test, evidence and p-values)."""
    tables = readme.load_tables(figures)
    claims, tests = tables["verdict"].copy(), tables["verdict-tests"]
    claims["claim_id"] = claims["claim"].map(verdict.claim_ids())
    out = []
    for row in claims.to_dict("records"):
        cid = row["claim_id"] if isinstance(row["claim_id"], str) else None
        mine = tests[tests["claim"] == cid] if cid else tests.iloc[0:0]
        question = row["claim"] in repeats.QUESTIONS
        notebook = readme.REPEATS_NOTEBOOK if question else readme.CLAIM_NOTEBOOK.get(cid, readme.VERDICT_NOTEBOOK)
        bullet = readme.claim_bullet(row, tests, tables)
        # The README's bullet without its "* **claim**: **outcome**." opening and "Evidence: ..." end.
        long_why = re.sub(r"^\* \*\*.*?\*\*(?: \([^)]*\))?: \*\*.*?\*\*\. ", "", bullet)
        long_why = re.sub(r"\s*Evidence: \[notebook \d+\]\([^)]*\)\.$", "", long_why)
        why, named = _why(row, mine, long_why)
        word = readme.outcome_word(row["outcome"])
        rest = str(row["outcome"])[len(word):].strip() if str(row["outcome"]).startswith(word) else ""
        out.append({"claim": row["claim"], "outcome": word, "sets": readable_names(row["outcome"]),
                    "note": "" if named else readable_names(rest), "why": why,
                    "notebook": notebook, "long": long_why,
                    "details": [(label, _p_list(row[col]) if col.endswith(" p") else
                                 ("–" if pd.isna(row[col]) else readable_names(row[col])))
                                for col, label in LONG_COLUMNS]})
    return out


def _verdict_section(figures: Path, titles: dict) -> str:
    if not (figures / "verdict.csv").exists():
        return "<p>No verdict yet: run <code>make paper</code>.</p>"
    rows = verdict_rows(figures)
    e = html.escape
    head = "".join(f"<th>{c}</th>" for c in VERDICT_COLUMNS)
    body = []
    for i, r in enumerate(rows, 1):
        page = f"{r['notebook']}.html"
        body.append(f'<tr class="claim"><td><a href="#claim-{i}">{e(r["claim"])}</a></td>'
                    f'<td class="outcome outcome-{e(r["outcome"].replace(" ", "-"))}" title="{e(r["sets"])}">'
                    f'<strong>{e(r["outcome"])}</strong>{" " + e(r["note"]) if r["note"] else ""}</td><td>{e(r["why"])}</td>'
                    f'<td><a href="{page}">{e(titles.get(page, r["notebook"]))}</a></td></tr>')
    parts = [f'<table id="verdict"><thead><tr>{head}</tr></thead><tbody>', *body, "</tbody></table>",
             "<h3>Each claim in full</h3>"]
    for i, r in enumerate(rows, 1):
        items = "".join(f"<dt>{e(label)}</dt><dd>{e(text)}</dd>" for label, text in r["details"])
        parts.append(f'<details id="claim-{i}"><summary>{e(r["claim"])}: <strong>{e(r["sets"])}</strong></summary>'
                     f"{_markdown(r['long'])}<dl>{items}</dl></details>")
    return "\n".join(parts)


def _forest(figures: Path) -> str:
    if not (figures / FOREST).exists():
        return (f"<p>The forest plot (<code>figures/{FOREST}</code>) is not published yet: "
                "<code>make paper</code> writes it from notebook 01.</p>")
    return (f'<figure><a href="01-main-comparison.html"><img id="forest" src="figures/{FOREST}" style="max-width:100%" '
            'alt="AttRec minus the strongest baseline, test HR@50, 95% intervals, per data set"></a>'
            "<figcaption>AttRec minus the strongest baseline (of all, and of the simple ones; each chosen on "
            "validation) in test HR@50, with paired bootstrap 95% intervals, per data set, at default and tuned "
            'settings (<a href="01-main-comparison.html">notebook 01</a>).</figcaption></figure>')


def _index(pages: list, figures: list) -> str:
    titles = {p["html"]: p["title"] for p in pages}
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1.0">',
             '<title>The AttRec study</title><link rel="icon" href="data:,">',
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:16px;line-height:1.45}"
             "table{border-collapse:collapse;font-size:14px}td,th{border-bottom:1px solid #ddd;padding:4px 8px;"
             "text-align:left;vertical-align:top}section{margin-bottom:24px}details{margin:6px 0}"
             "dt{font-weight:bold}dd{margin:0 0 6px 16px}.outcome-holds,.outcome-yes{color:#1a7f37}"
             ".outcome-no{color:#b42318}.outcome-partly{color:#9a6700}</style></head><body>",
             "<h1>A reproducibility study of AttRec (Zhang et al. 2018)</h1>",
             "<p>Next-item recommendation with self-attentive metric learning, rebuilt from the paper: one "
             "notebook per artifact of the paper, each opening with what it found (written from its numbers) "
             "and ending with its conclusion. The verdict below is decided by rules written in code "
             "(<code>attrec_lib/analysis/verdict.py</code>); the rows from the paper first, then the study's own "
             "questions.</p>",
             "<h2>Verdict: which of the paper's claims hold</h2>",
             _verdict_section(paths.FIGURES_DIR, titles),
             "<h2>AttRec against the strongest baseline</h2>", _forest(paths.FIGURES_DIR),
             "<h2>The paper's artifacts</h2>"]
    for page in pages:
        parts.append(f'<section><h3><a href="{page["html"]}">{html.escape(page["title"])}</a></h3>')
        if page["findings"]:
            parts.append(_markdown(page["findings"]))
        if page["files"]:
            links = ", ".join(f'<a href="figures/{f.name}">{f.name}</a>' for f in page["files"])
            parts.append(f"<p>Files: {links}</p>")
        parts.append("</section>")
    # Which notebook writes each CSV: the same scan of the notebooks' code as the artifact links above.
    writers = {}
    for page in pages:
        for f in page["files"]:
            writers.setdefault(f.name, []).append(page)
    parts.append('<h2 id="data">Data behind the figures (CSV)</h2><ul class="csv-files">')
    for f in (f for f in figures if f.suffix == ".csv"):
        by = ", ".join(f'<a href="{p["html"]}">{html.escape(p["title"])}</a>' for p in writers.get(f.name, []))
        parts.append(f'<li><a class="csv" href="figures/{f.name}">{f.name}</a>'
                     f"{' (written by ' + by + ')' if by else ' (written by no notebook: make paper)'}</li>")
    parts.append("</ul></body></html>")
    return "\n".join(parts)


def build(out: Path) -> list:
    """Write the site into ``out`` (replaced only once complete); returns the page names."""
    from nbconvert import HTMLExporter
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "figures").mkdir(parents=True)
    figures = sorted(f for f in paths.FIGURES_DIR.glob("*") if f.suffix in (".png", ".pdf", ".csv"))
    for f in figures:
        shutil.copy2(f, tmp / "figures" / f.name)
    exporter = HTMLExporter(template_name="attrec", extra_template_basedirs=[str(TEMPLATE_DIR)],
                            exclude_input_prompt=True, exclude_output_prompt=True)
    pages = []
    sources = notebooks()
    books = [json.loads(path.read_text()) for path in sources]
    links = [{"href": f"{path.stem}.html", "title": _title(nb, path.stem)} for path, nb in zip(sources, books)]
    for i, (path, nb) in enumerate(zip(sources, books)):
        nav = {"prev": links[i - 1] if i else None, "next": links[i + 1] if i + 1 < len(links) else None}
        body, _ = exporter.from_filename(str(path), resources={"metadata": {"name": links[i]["title"]}, "nav": nav})
        # A table's CSV link points from notebooks/ to ../figures/; on the site, figures/ is beside the page.
        (tmp / links[i]["href"]).write_text(body.replace('href="../figures/', 'href="figures/'))
        pages.append({"html": links[i]["href"], "title": links[i]["title"], "findings": _tagged_markdown(nb, "findings"),
                      "files": _artifacts(nb, figures)})
    (tmp / "index.html").write_text(_index(pages, figures))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return ["index.html"] + [p["html"] for p in pages]


def _serve(root: Path):
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# Run inside each page: the images and links it has, and any error or stderr output it shows.
_PAGE_PROBE = """() => ({
  images: Array.from(document.images).map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0})),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
  errors: Array.from(document.querySelectorAll(
    '[data-mime-type="application/vnd.jupyter.stderr"], [data-mime-type="application/vnd.jupyter.error"], .jp-OutputArea-output.jp-mod-error'
  )).map(e => e.innerText.slice(0, 200)),
  ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),
  nav: Array.from(document.querySelectorAll('nav.site-nav a[rel]')).map(a => a.rel + ' ' + a.getAttribute('href')),
  verdictRows: document.querySelectorAll('table#verdict > tbody > tr').length,
})"""


def _study_checks(root: Path, pages: list, probes: dict) -> list:
    """What a site built by :func:`build` must have beyond loading cleanly (a folder with a
    ``figures/`` beside its pages): the index's verdict table has one row per row of
    ``figures/verdict.csv``, links every CSV under ``figures/`` and shows the forest plot when it is
    there; every notebook page links the index and its previous and next pages, top and bottom."""
    figures = root / "figures"
    if not figures.is_dir():
        return []
    problems = []
    index = probes.get("index.html")
    if index is None:
        return ["index.html: not checked"]
    verdict_csv = figures / "verdict.csv"
    if not verdict_csv.exists():
        problems.append("figures/verdict.csv: missing, so the verdict table cannot be checked")
    else:
        want = len(pd.read_csv(verdict_csv))
        if index["verdictRows"] != want:
            problems.append(f"index.html: the verdict table has {index['verdictRows']} rows, "
                            f"figures/verdict.csv has {want}")
    linked = set(index["links"])
    problems += [f"index.html: no link to figures/{f.name}" for f in sorted(figures.glob("*.csv"))
                 if f"figures/{f.name}" not in linked]
    if (figures / FOREST).exists() and not any(i["src"].endswith(f"figures/{FOREST}") for i in index["images"]):
        problems.append(f"index.html: the forest plot figures/{FOREST} is not shown")
    books = [p for p in pages if p != "index.html"]
    for i, name in enumerate(books):
        want = ["index index.html"] + ([f"prev {books[i - 1]}"] if i else []) + (
            [f"next {books[i + 1]}"] if i + 1 < len(books) else [])
        have = probes.get(name, {}).get("nav", [])
        for link in want:
            if have.count(link) != 2:
                problems.append(f"{name}: navigation link '{link}' appears {have.count(link)} times (want top and bottom)")
        problems += [f"{name}: unexpected navigation link '{link}'" for link in sorted(set(have) - set(want))]
    return problems


def _chromium() -> str:
    found = os.environ.get("ATTREC_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise SystemExit("make site-test: no chromium on PATH (Debian: apt-get install chromium), "
                         "or set ATTREC_CHROMIUM to the browser's executable")
    return found


def check(root: Path, shots: Path, docs: bool = False) -> list:
    """Open every page of the site in headless Chromium; returns the problems found (empty: pass)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise SystemExit("make site-test needs Playwright for Python: .venv/bin/pip install -e '.[site]'") from err
    root, shots = Path(root), Path(shots)
    pages = sorted(p.name for p in root.glob("*.html"))
    if "index.html" not in pages:
        raise SystemExit(f"make site-test: {root}/index.html not found; run make site first")
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    server = _serve(root)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    problems = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=_chromium(), args=list(CHROMIUM_ARGS))
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            console = []
            page.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: console.append(str(exc)))
            status, probes = {}, {}
            for name in pages:
                console.clear()
                response = page.goto(base + name, wait_until="load")
                if response is None or not response.ok:
                    problems.append(f"{name}: HTTP {response.status if response else 'no response'}")
                    continue
                probe = probes[name] = page.evaluate(_PAGE_PROBE)
                problems += [f"{name}: image does not load: {i['src'][:80]}" for i in probe["images"] if not i["ok"]]
                problems += [f"{name}: error output: {e!r}" for e in probe["errors"]]
                for href in probe["links"]:
                    target, fragment = urldefrag(urljoin(page.url, href))
                    if urlparse(target).netloc != urlparse(base).netloc:
                        continue  # outside the site (the paper, data downloads): not checked offline
                    if target == urldefrag(page.url)[0]:
                        if fragment and fragment not in probe["ids"]:
                            problems.append(f"{name}: link to a missing anchor #{fragment}")
                        continue
                    if target not in status:
                        status[target] = page.request.get(target).status
                    if status[target] != 200:
                        problems.append(f"{name}: broken link {href} (HTTP {status[target]})")
                problems += [f"{name}: console error: {text}" for text in console]
                page.screenshot(path=str(shots / name.replace(".html", ".png")), full_page=True)
                print(f"{name}: {len(probe['images'])} images, {len(probe['links'])} links checked", flush=True)
            browser.close()
    finally:
        server.shutdown()
    problems += _study_checks(root, pages, probes)
    if docs and not problems:
        paths.DOCS_DIR.mkdir(exist_ok=True)
        for name, target in (("index.png", "site-index.png"), (FIGURE4_PAGE.replace(".html", ".png"), "site-figure4.png")):
            shutil.copy2(shots / name, paths.DOCS_DIR / target)
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attrec_lib.report.site", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "check"], help="build: write the site; check: open it in Chromium")
    parser.add_argument("--out", type=Path, default=paths.SITE_DIR, help="the site folder (default: build/site)")
    parser.add_argument("--docs", action="store_true",
                        help="check: also copy the index's and the Figure 4 page's screenshots to docs/")
    args = parser.parse_args(argv)
    if args.command == "build":
        pages = build(args.out)
        print(f"make site: {len(pages)} pages in {args.out}")
        return 0
    shots = args.out.with_name(args.out.name + "-screenshots")
    problems = check(args.out, shots, docs=args.docs)
    for p in problems:
        print(f"FAIL {p}", file=sys.stderr)
    print(f"make site-test: {'FAILED, ' + str(len(problems)) + ' problems' if problems else 'passed'}; "
          f"screenshots in {shots}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
