"""``make site`` and ``make site-test``: the study as a static HTML site, checked in a real browser.

Usage::

    python -m attrec_lib.report.site build [--out build/site]
    python -m attrec_lib.report.site check [--out build/site] [--docs]

``build`` renders every committed notebook (as executed by ``make paper``; nothing is run) with
nbconvert's HTML exporter and a small template (``site_template/attrec``: JupyterLab's look
without the scripts it would fetch from the network), copies ``figures/`` (PNG, PDF, CSV) beside
them and writes an index: each notebook's findings paragraph, the verdict table and one link per
paper artifact with its figure and CSV files. nbconvert is chosen because it already comes with
the pinned ``jupyter`` (no new dependency, works offline) and renders exactly the outputs nbval
checks; mkdocs-jupyter or Jupyter Book would add a second configuration and toolchain for the
same pages.

``check`` serves the site on loopback and opens every page in headless Chromium (Playwright with
the system's ``chromium``): every image must load (naturalWidth > 0), every internal link must
resolve, no page may show error or stderr output, no console error may occur; it saves one
screenshot per page under ``<out>-screenshots/`` (and with ``--docs`` copies the index's and the
Figure 4 page's to ``docs/``).
"""
from __future__ import annotations

import argparse
import functools
import html
import json
import os
import shutil
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pandas as pd

from ..analysis import tables
from ..settings import paths

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


def _verdict_table() -> str:
    path = paths.FIGURES_DIR / "verdict.csv"
    if not path.exists():
        return "<p>No verdict yet: run <code>make paper</code>.</p>"
    df = pd.read_csv(path)
    return tables.styled(tables.readable(df), "site-verdict").to_html()


def _index(pages: list, figures: list) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1.0">',
             '<title>The AttRec study</title><link rel="icon" href="data:,">',
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:16px;line-height:1.45}"
             "table{border-collapse:collapse;font-size:14px}td,th{border-bottom:1px solid #ddd}"
             "section{margin-bottom:24px}</style></head><body>",
             "<h1>A reproducibility study of AttRec (Zhang et al. 2018)</h1>",
             "<p>Next-item recommendation with self-attentive metric learning, rebuilt from the paper: one "
             "notebook per artifact of the paper, each opening with what it found (written from its numbers) "
             "and ending with its conclusion. The verdict below is decided by rules written in code "
             "(<code>attrec_lib/analysis/verdict.py</code>).</p>",
             "<h2>Verdict: which of the paper's claims hold</h2>", _verdict_table(),
             "<h2>The paper's artifacts</h2>"]
    for page in pages:
        parts.append(f'<section><h3><a href="{page["html"]}">{html.escape(page["title"])}</a></h3>')
        if page["findings"]:
            parts.append(_markdown(page["findings"]))
        if page["files"]:
            links = ", ".join(f'<a href="figures/{f.name}">{f.name}</a>' for f in page["files"])
            parts.append(f"<p>Files: {links}</p>")
        parts.append("</section>")
    csvs = [f for f in figures if f.suffix == ".csv"]
    parts.append("<h2>Data behind the tables and figures (CSV)</h2><ul>")
    parts += [f'<li><a href="figures/{f.name}">{f.name}</a></li>' for f in csvs]
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
    for path in notebooks():
        nb = json.loads(path.read_text())
        body, _ = exporter.from_filename(str(path), resources={"metadata": {"name": _title(nb, path.stem)}})
        name = f"{path.stem}.html"
        (tmp / name).write_text(body)
        pages.append({"html": name, "title": _title(nb, path.stem), "findings": _tagged_markdown(nb, "findings"),
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
})"""


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
            status = {}
            for name in pages:
                console.clear()
                response = page.goto(base + name, wait_until="load")
                if response is None or not response.ok:
                    problems.append(f"{name}: HTTP {response.status if response else 'no response'}")
                    continue
                probe = page.evaluate(_PAGE_PROBE)
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
