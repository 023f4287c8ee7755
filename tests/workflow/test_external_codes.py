"""A researcher's own training code in our tables: export the split, train outside hashbench (numpy),
name the code files under config external, and find the method in Table 1, the claims and the figures."""

import csv
import html
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml

from conftest import ROOT

pytestmark = pytest.mark.slow  # the workflow as a user runs it

CONFIG = {
    "protocols": ["digits"],
    "methods": ["HashNet", "ITQ"],
    "bits": [8, 16],
    "seeds": [0, 1],
    "method_params": {"HashNet": {"iterations": 20}},
    "tables": {"out": "results"},
    "figures": {"out": "figures", "methods": []},  # the metric figures: precision, search
    "external": {"Outside": {"codes": "codes/{protocol}/{bits}/{seed}.npy"}},
}


def snakemake(workdir, *targets):
    (workdir / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--cores", "2", *targets,
                           "--configfile", "config.yaml"], capture_output=True, text=True, cwd=workdir, env=env)


def train_outside(workdir, bits, seed):
    """Another code base: reads the exported split, writes (query; database) signs in the exported order."""
    d = np.load(workdir / "results/export/digits/split.npz")
    flat = {s: d[f"{s}_images"].reshape(len(d[f"{s}_images"]), -1) / 16.0 for s in ("train", "query", "database")}
    weights = np.linalg.lstsq(flat["train"], d["train_labels"] * 2.0 - 1, rcond=None)[0]
    project = weights @ np.random.default_rng(seed).standard_normal((weights.shape[1], bits))
    path = workdir / f"codes/digits/{bits}/{seed}.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.sign(np.vstack([flat["query"], flat["database"]]) @ project))


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("external")
    out = snakemake(workdir, "export")
    assert out.returncode == 0, out.stderr[-3000:]
    for bits in CONFIG["bits"]:
        train_outside(workdir, bits, 0)
    out = snakemake(workdir, "all")  # seed 1 missing: refused while planning, nothing runs
    assert out.returncode != 0
    assert ("hashbench: config field external.Outside.codes: no codes for (digits, 8 bits, seed 1): "
            "codes/digits/8/1.npy not found") in out.stderr
    assert not (workdir / "results/table1.csv").exists() and not (workdir / "results/runs").exists()
    for bits in CONFIG["bits"]:
        train_outside(workdir, bits, 1)
    out = snakemake(workdir, "all", "figures")
    assert out.returncode == 0, out.stderr[-3000:]
    return workdir


def test_outside_codes_get_a_table1_row_with_its_test_and_a_claims_row(scored):
    with open(scored / "results/table1.csv", newline="") as fh:
        rows = {r["method"]: r for r in csv.DictReader(fh)}
    for bits in CONFIG["bits"]:
        cell = rows["Outside"]
        maps = [float(np.load(scored / f"results/runs/digits/Outside/{bits}bits/seed{s}/per_query.npz")["ap"].mean())
                for s in CONFIG["seeds"]]
        assert float(cell[f"digits/{bits}bits/map_mean"]) == pytest.approx(np.mean(maps), abs=5e-5)
        assert cell[f"digits/{bits}bits/n_seeds"] == "2"
        assert cell[f"digits/{bits}bits/best"] == "1" or cell[f"digits/{bits}bits/p_vs_best"]  # tested like any row
        assert float(cell[f"digits/{bits}bits/map_mean"]) > 0.3  # least squares to the labels: far above chance
    table = (scored / "results/table1.md").read_text()
    assert "| Outside † ‡ |" in table and "‡ codes trained outside hashbench" in table
    claims = (scored / "results/claims.md").read_text()
    assert "| Outside > HashNet |" in claims
    with open(scored / "figures/digits/precision.csv", newline="") as fh:
        assert any(r["series"] == "Outside" for r in csv.DictReader(fh))


def test_a_wrong_code_file_stops_before_the_tables_naming_it(scored):
    np.save(scored / "codes/digits/16/1.npy", np.ones((10, 16)))  # newer than its run: stored again, and refused
    out = snakemake(scored, "all")
    assert out.returncode != 0
    log = (scored / "logs/external/digits/Outside/16bits/seed1.log").read_text()
    assert "hashbench: error: codes/digits/16/1.npy: expected a (1797, bits) matrix (100 queries, then 1697 " \
           "database items), got shape (10, 16)" in log
    assert not (scored / "results/runs/digits/Outside/16bits/seed1/run.json").exists()
    train_outside(scored, 16, 1)  # put right again for the tests after this one


CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="Debian's chromium is not installed "
                    "(.ci/run installs it)")
def test_the_results_page_shows_every_table_figure_and_run_record_in_a_real_browser(scored):
    out = snakemake(scored, "results/index.html")
    assert out.returncode == 0, out.stderr[-3000:]
    page = scored / "results/index.html"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    dom = subprocess.run([CHROMIUM, *flags, f"--user-data-dir={scored / 'chromium-dom'}", "--dump-dom",
                          page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    shot = scored / "results/index.png"
    subprocess.run([CHROMIUM, *flags, f"--user-data-dir={scored / 'chromium-shot'}", "--window-size=1400,3000",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.stat().st_size > 50_000  # a drawn page, not a blank one
    figures = sorted((scored / "figures/digits").glob("*.png"))
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert f'data-images="{len(figures)}"' in body and f'data-images-loaded="{len(figures)}"' in body  # all decoded
    for section in ("table1", "table2", "table1-ph2", "table1-pn", "claims", "reproduction", "cost", "runs"):
        after = dom.split(f'id="{section}"', 1)[1]
        assert "<table" in after.split("<h2", 1)[0], f"section {section} has no table"
    assert "Outside † ‡" in dom and "outside hashbench" in dom  # the external row and its cost
    links = re.findall(r'href="([^"]+)"', dom)
    run_records = [link for link in links if link.endswith("run.json")]
    assert len(run_records) == 3 * 2 * 2  # every run: HashNet, ITQ, Outside at 8 and 16 bits, seeds 0 and 1
    for link in links:
        if link.startswith("#"):
            assert f'id="{link[1:]}"' in dom, link
        else:
            assert (page.parent / html.unescape(link)).resolve().is_file(), link
