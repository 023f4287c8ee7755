"""One results page: a self-contained HTML file (``index.html`` beside the tables) with every table
and its marks and spread, the figures (embedded), what each method cost (fit and encode seconds
from the runs, peak memory from the training jobs' benchmark records, the device), the
reproduction summary, the values reported elsewhere, and a link to each run's record.

Read from what the workflow stored: the tables' Markdown files (rendered by Python-Markdown), the
figures' PNG files, metrics.csv, each run's run.json and its training job's benchmark record
(``hashbench.layout.benchmark_file``). When the page has loaded, its ``body`` carries
``data-images`` and ``data-images-loaded`` (the figures the browser decoded), so a headless browser
can tell a broken figure from a drawn one.
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

import markdown
import pandas as pd

from hashbench import io
from hashbench.layout import METRICS_TABLE, RUN_RECORD, LOGS, benchmark_file, run_dir

SECTIONS = (  # (file stem beside the page, heading)
    ("table1", "Table 1: MAP"), ("table2", "Table 2: HashNet's ablations"), ("table1-ph2", "Table 1's methods: P@H<=2"),
    ("table1-pn", "Table 1's methods: P@N"), ("claims", "The paper's claims"),
    ("reproduction", "Reproduction against the shipped reference runs"), ("published", "Reported elsewhere"),
)
STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:80em;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}th,td{border:1px solid #ccc;padding:.2em .5em}
th{background:#f3f3f3}figure{display:inline-block;margin:.5em;vertical-align:top}figure img{max-width:36em}
nav a{margin-right:1em}h2{border-bottom:1px solid #ddd;margin-top:2em}"""
ON_LOAD = ("window.addEventListener('load',function(){var s=document.images;document.body.dataset.images=s.length;"
           "document.body.dataset.imagesLoaded=Array.prototype.filter.call(s,function(i){return i.naturalWidth>0})"
           ".length;});")


def _markdown(path: Path) -> str:
    """A table file as HTML, its own title dropped (the page's section heading replaces it)."""
    lines = path.read_text().splitlines()
    body = "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines)
    return markdown.markdown(body, extensions=["tables"])


def _peak_memory(protocol, method, bits, seed) -> float | None:
    """The training job's peak resident memory in MB (Snakemake's benchmark record), when recorded."""
    record = Path(benchmark_file("train").format(protocol=protocol, method=method, bits=bits, seed=seed))
    if not record.is_file():
        return None
    frame = pd.read_csv(record, sep="\t")
    return float(frame["max_rss"].max()) if "max_rss" in frame and pd.notna(frame["max_rss"].max()) else None


def cost(runs: pd.DataFrame, records: dict) -> pd.DataFrame:
    """Per (protocol, method): mean fit and encode seconds over its runs, the largest peak memory of
    its training jobs, and the devices it ran on (``records``: each run's run.json by its key)."""
    rows = []
    for (protocol, method), group in runs.groupby(["protocol", "method"], sort=False):
        memory = [m for r in group.itertuples() if (m := _peak_memory(protocol, method, r.bits, r.seed)) is not None]
        devices = sorted({str(records[protocol, method, r.bits, r.seed].get("device")) for r in group.itertuples()})
        rows.append({"protocol": protocol, "method": method, "runs": len(group),
                     "fit s (mean)": pd.to_numeric(group["fit_seconds"], errors="coerce").mean(),
                     "encode s (mean)": pd.to_numeric(group["encode_seconds"], errors="coerce").mean(),
                     "peak MB (train)": max(memory) if memory else None,
                     "device": ", ".join("outside hashbench" if d == "None" else d for d in devices)})
    return pd.DataFrame(rows)


def _link(path: Path, page: Path, text: str) -> str:
    """A link from the page to a file of the working folder, relative so that the folder can move."""
    return f'<a href="{html.escape(os.path.relpath(path, page.parent))}">{html.escape(text)}</a>'


def _figure(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(path.parent.name)}: {html.escape(path.stem)}</figcaption></figure>")


def build(tables_dir, figures, out) -> Path:
    """Write the page ``out`` from the tables in ``tables_dir`` and the figure PNG files ``figures``."""
    tables_dir, out = Path(tables_dir), Path(out)
    runs = pd.read_csv(tables_dir / METRICS_TABLE)
    records = {(r.protocol, r.method, r.bits, r.seed): io.read_json(run_dir(r.protocol, r.method, r.bits, r.seed) / RUN_RECORD)
               for r in runs.itertuples()}
    parts = [f"<h1>hashbench results: {html.escape(str(tables_dir))}</h1>", "<nav>"]
    present = [(stem, title) for stem, title in SECTIONS if (tables_dir / f"{stem}.md").is_file()]
    parts += [f'<a href="#{stem}">{html.escape(title)}</a>' for stem, title in present]
    parts += ['<a href="#cost">Cost</a>', '<a href="#figures">Figures</a>', '<a href="#runs">Runs</a>', "</nav>"]
    for stem, title in present:
        parts += [f'<h2 id="{stem}">{html.escape(title)}</h2>', _markdown(tables_dir / f"{stem}.md"),
                  f'<p><a href="{stem}.md">{stem}.md</a></p>']
    parts += ['<h2 id="cost">Cost per method</h2>',
              "<p>Mean fit and encode seconds over the runs (run.json), the largest peak resident memory of "
              f"the method's training jobs (Snakemake's benchmark records, {benchmark_file('train').split('{')[0]}), "
              "the device. Codes trained outside hashbench have no times here.</p>",
              cost(runs, records).to_html(index=False, na_rep="—", float_format=lambda x: f"{x:.2f}")]
    parts += ['<h2 id="figures">Figures</h2>', *map(_figure, map(Path, figures))]
    parts += ['<h2 id="runs">Runs</h2>', "<table><tr><th>protocol</th><th>method</th><th>bits</th><th>seed</th>"
              "<th>MAP</th><th>record</th><th>log</th></tr>"]
    for r in runs.itertuples():
        folder = run_dir(r.protocol, r.method, r.bits, r.seed)
        external = "external" in records[r.protocol, r.method, r.bits, r.seed]["spec"]
        log = Path(LOGS["external" if external else "train"].format(protocol=r.protocol, method=r.method, bits=r.bits,
                                                                    seed=r.seed))
        links = [_link(folder / RUN_RECORD, out, "run.json"), _link(log, out, "log") if log.is_file() else "—"]
        parts.append(f"<tr><td>{html.escape(r.protocol)}</td><td>{html.escape(r.method)}</td><td>{r.bits}</td>"
                     f"<td>{r.seed}</td><td>{r.map:.4f}</td>" + "".join(f"<td>{link}</td>" for link in links) + "</tr>")
    parts.append("</table>")
    page = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>hashbench results</title>"
            f"<style>{STYLE}</style><script>{ON_LOAD}</script></head><body>" + "\n".join(parts) + "</body></html>\n")
    with io.atomic_path(out) as tmp:
        Path(tmp).write_text(page)
    return out
