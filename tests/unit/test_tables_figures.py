"""Tables and figures built from synthetic stored runs: content, not just existence."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from hashbench import io, layout, reference
from hashbench.errors import HashbenchError
from hashbench.stages import figures, stored, tables

METHODS = ["LSH", "HashNet-C", "MyMethod", "HashNet", "DHN", "HashNet-W"]
BITS = [16, 32]
SEEDS = [0, 1, 2]


def spec(**over):
    base = {"protocols": {"toy": {"topk": 50, "paper": None}, "inet": {"topk": 1000, "paper": "imagenet"}},
            "methods": METHODS, "bits": BITS, "seeds": SEEDS, "alpha": 0.05, "resamples": 1000}
    return {**base, **over}


def fake_metrics(rng, protocol, method, bits, seed):
    return {"protocol": protocol, "method": method, "bits": bits, "seed": seed, "map": float(rng.uniform(0.1, 0.9)),
            "map_tie_aware": 0.5, "p_h2": float(rng.uniform()), "topk": 50, "n_queries": 10, "n_queries_in_map": 10,
            "no_relevant": "zero", "fit_seconds": 1.0, "encode_seconds": 0.1, "eval_seconds": 0.01,
            "split_checksum": "abc", "config_hash": f"{method}{bits}{seed}",
            "precision_at_n": {"10": float(rng.uniform()), "20": float(rng.uniform())},
            "pr_curve": {"radius": list(range(bits + 1)), "precision": rng.uniform(size=bits + 1).tolist(),
                         "recall": np.linspace(0, 1, bits + 1).tolist(),
                         "examined": np.geomspace(1e-4, 1, bits + 1).tolist()}}


@pytest.fixture
def runs(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "runs"
    for p in ("toy", "inet"):
        for m in METHODS:
            for b in BITS:
                for s in SEEDS:
                    metrics = fake_metrics(rng, p, m, b, s)
                    folder = layout.run_dir(p, m, b, s, root=root)
                    io.write_json(folder / "metrics.json", metrics)
                    noise = rng.normal(0, 0.05, 40)
                    io.save_npz(folder / layout.PER_QUERY, ap=metrics["map"] + noise - noise.mean())
    return root


def metrics_files(root):
    """What the rule passes: every run's metrics.json."""
    return sorted(map(str, root.rglob(layout.METRICS)))


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_table_cells_are_mean_and_std_of_the_stored_runs(runs, tmp_path):
    tables.build(spec(), metrics_files(runs), tmp_path / "out")
    rows = {r["method"]: r for r in read_csv(tmp_path / "out" / "table1.csv")}
    assert list(rows) == ["HashNet", "DHN", "LSH", "MyMethod"]  # paper order, then the config's; no ablations
    for method in rows:
        for p in ("toy", "inet"):
            for b in BITS:
                maps = [io.read_json(layout.run_dir(p, method, b, s, root=runs) / "metrics.json")["map"] for s in SEEDS]
                assert float(rows[method][f"{p}/{b}bits/map_mean"]) == pytest.approx(np.mean(maps), abs=5e-5)
                assert float(rows[method][f"{p}/{b}bits/map_std"]) == pytest.approx(np.std(maps, ddof=1), abs=5e-5)
                assert rows[method][f"{p}/{b}bits/n_seeds"] == "3"
    table2 = read_csv(tmp_path / "out" / "table2.csv")
    assert [r["method"] for r in table2] == ["HashNet", "HashNet-W", "HashNet-C"]


def test_protocol_columns_follow_the_configured_order_not_the_sorted_json(runs, tmp_path):
    for order in (["toy", "inet"], ["inet", "toy"]):
        # the rule passes the spec as JSON with sorted keys: the protocols mapping loses its order
        sorted_spec = json.loads(json.dumps(spec(order=order), sort_keys=True))
        tables.build(sorted_spec, metrics_files(runs), tmp_path / "out")
        header = (tmp_path / "out" / "table1.md").read_text().split("| method |")[1].splitlines()[0]
        assert [c.split()[0] for c in header.split("|") if c.strip()] == [p for p in order for _ in BITS]


def _set_per_query(runs, protocol, method, bits, ap_of_seed):
    for s in SEEDS:
        folder = layout.run_dir(protocol, method, bits, s, root=runs)
        ap = ap_of_seed(s)
        io.save_npz(folder / layout.PER_QUERY, ap=ap)
        metrics = io.read_json(folder / "metrics.json")
        io.write_json(folder / "metrics.json", {**metrics, "map": float(ap.mean())})


def test_each_column_marks_its_best_and_the_methods_not_significantly_worse(runs, tmp_path):
    rng = np.random.default_rng(7)
    base = rng.uniform(0.3, 0.9, 40)
    _set_per_query(runs, "toy", "HashNet", 16, lambda s: base + 0.02)                           # the best
    noise = rng.normal(0, 0.05, 40)
    noise += 0.002 - noise.mean()
    _set_per_query(runs, "toy", "DHN", 16, lambda s: base + 0.02 - noise)                       # 0.002 below, noisy
    _set_per_query(runs, "toy", "LSH", 16, lambda s: base - 0.3)                                 # far below
    _set_per_query(runs, "toy", "MyMethod", 16, lambda s: base - 0.1 * (s == 0))                 # below on average
    tables.build(spec(), metrics_files(runs), tmp_path / "out")
    rows = {r["method"]: r for r in read_csv(tmp_path / "out" / "table1.csv")}
    cols = {m: (rows[m]["toy/16bits/best"], rows[m]["toy/16bits/tied_with_best"]) for m in rows}
    assert cols == {"HashNet": ("1", ""), "DHN": ("0", "1"), "LSH": ("0", "0"), "MyMethod": ("0", "0")}
    assert float(rows["LSH"]["toy/16bits/p_vs_best"]) < 0.01 < float(rows["DHN"]["toy/16bits/p_vs_best"])
    md = (tmp_path / "out" / "table1.md").read_text()
    hashnet = next(line for line in md.splitlines() if line.startswith("| HashNet |")).split(" | ")
    dhn = next(line for line in md.splitlines() if line.startswith("| DHN |")).split(" | ")
    lsh = next(line for line in md.splitlines() if line.startswith("| LSH |")).split(" | ")
    column = 1 + BITS.index(16)  # toy is the first protocol
    assert hashnet[column].startswith("**") and dhn[column].endswith("≈") and "≈" not in lsh[column]
    assert "Holm-adjusted within the column, alpha = 0.05" in md


def test_paper_values_sit_beside_ours_only_where_the_paper_reports_them(runs, tmp_path):
    tables.build(spec(), metrics_files(runs), tmp_path / "out")
    rows = {r["method"]: r for r in read_csv(tmp_path / "out" / "table1.csv")}
    paper = reference.values("table1")[("HashNet", "imagenet", 32)]
    assert paper == 0.6061
    assert float(rows["HashNet"]["inet/32bits/paper"]) == paper
    assert float(rows["HashNet"]["inet/32bits/minus_paper"]) == pytest.approx(
        float(rows["HashNet"]["inet/32bits/map_mean"]) - paper, abs=1e-4)
    assert rows["MyMethod"]["inet/32bits/paper"] == "" and "toy/32bits/paper" not in rows["HashNet"]
    md = (tmp_path / "out" / "table1.md").read_text()
    assert f"(paper {paper:.4f}, " in md and "| MyMethod † |" in md and "| HashNet |" in md
    assert "- † not in the paper" in md
    table2 = {r["method"]: r for r in read_csv(tmp_path / "out" / "table2.csv")}
    assert float(table2["HashNet-W"]["inet/16bits/paper"]) == reference.values("table2")[("HashNet-W", "imagenet", 16)]


def test_metrics_csv_has_one_row_per_run(runs, tmp_path):
    tables.build(spec(), metrics_files(runs), tmp_path / "out")
    rows = read_csv(tmp_path / "out" / "metrics.csv")
    assert len(rows) == 2 * len(METHODS) * len(BITS) * len(SEEDS)
    row = next(r for r in rows if (r["protocol"], r["method"], r["bits"], r["seed"]) == ("inet", "DHN", "32", "2"))
    stored_metrics = io.read_json(layout.run_dir("inet", "DHN", 32, 2, root=runs) / "metrics.json")
    assert float(row["map"]) == stored_metrics["map"] and float(row["p_h2"]) == stored_metrics["p_h2"]
    assert float(row["precision_at_20"]) == stored_metrics["precision_at_n"]["20"]
    assert row["config_hash"] == "DHN322" and row["split_checksum"] == "abc"


def test_missing_runs_are_named_unless_a_partial_table_is_asked_for(runs, tmp_path):
    (layout.run_dir("toy", "DHN", 32, 1, root=runs) / "metrics.json").unlink()
    with pytest.raises(HashbenchError, match=r"1 configured run\(s\): \(toy, DHN, 32 bits, seed 1\); run them"):
        tables.build(spec(), metrics_files(runs), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    for s in SEEDS:
        (layout.run_dir("toy", "LSH", 16, s, root=runs) / "metrics.json").unlink(missing_ok=True)
    tables.build(spec(partial=True), metrics_files(runs), tmp_path / "out")
    rows = {r["method"]: r for r in read_csv(tmp_path / "out" / "table1.csv")}
    assert rows["LSH"]["toy/16bits/n_seeds"] == "0" and rows["LSH"]["toy/16bits/map_mean"] == ""
    assert rows["DHN"]["toy/32bits/n_seeds"] == "2"
    md = (tmp_path / "out" / "table1.md").read_text()
    assert "| LSH | missing |" in md and "(n=2 of 3)" in md


def test_tables_cli_fails_in_one_line_on_a_missing_run(runs, tmp_path, cli_env):
    (layout.run_dir("inet", "LSH", 16, 0, root=runs) / "metrics.json").unlink()
    cmd = [sys.executable, "-m", "hashbench", "tables", "--spec", json.dumps(spec()), "--metrics",
           *metrics_files(runs), "--out", str(tmp_path / "out")]
    out = subprocess.run(cmd, capture_output=True, text=True, env=cli_env)
    assert out.returncode == 2 and out.stderr.strip().splitlines()[-1].startswith("hashbench: error: ")
    assert "(inet, LSH, 16 bits, seed 0)" in out.stderr
    assert subprocess.run(cmd + ["--partial"], capture_output=True, text=True, env=cli_env).returncode == 0
    assert "(n=2 of 3)" in (tmp_path / "out" / "table1.md").read_text()


def _runs_for_figures(runs_root, data_dir, bits):
    from hashbench.data import splits

    n_db = splits.load(data_dir).split["database"].size
    rng = np.random.default_rng(1)
    for method in ("HashNet", "DHN"):
        d = layout.run_dir("toy", method, bits, 0, root=runs_root)
        codes = np.where(rng.random((n_db, bits)) < 0.5, -1, 1).astype(np.int8)
        io.save_codes(d / "codes.npz", codes[:5], codes)
        io.save_npz(d / "continuous.npz", database=np.tanh(rng.normal(size=(n_db, bits)) * 2).astype(np.float32))
        io.write_json(d / "run.json", {"spec": {"protocol": "toy", "method": method, "bits": bits, "seed": 0},
                                        "loss_history": [[i + 1, 1.0 / (i + 1), 2.0 / (i + 1)] for i in range(30)]})
    return n_db


@pytest.mark.slow
def test_figures_have_one_line_per_method_and_histograms_count_every_entry(runs, digits_dir, tmp_path):
    n_db = _runs_for_figures(runs, digits_dir, 32)
    fig_spec = {"protocol": "toy", "methods": METHODS, "bits": BITS, "seed": 0, "at_bits": 32,
                "deep_methods": ["HashNet", "DHN"], "tsne_points": 200}
    run_dirs = [layout.run_dir("toy", m, 32, 0, root=runs) for m in ("HashNet", "DHN")]
    paths = figures.build(fig_spec, metrics_files(runs), run_dirs, digits_dir, tmp_path / "fig")
    assert {p.name for p in paths} == {f"{n}.{e}" for n in layout.FIGURES for e in layout.FIGURE_FORMATS}
    assert all(p.stat().st_size > 0 for p in paths)
    data = read_csv(tmp_path / "fig" / "precision.csv")
    assert {r["series"] for r in data if r["panel"] == "p_h2"} == set(METHODS)
    assert sum(r["panel"] == "p_h2" for r in data) == len(METHODS) * len(BITS)
    hist = read_csv(tmp_path / "fig" / "histogram.csv")
    for method in ("HashNet", "DHN"):
        counts = [int(r["y"]) for r in hist if r["panel"] == method]
        assert len(counts) == 100 and sum(counts) == n_db * 32
    loss = read_csv(tmp_path / "fig" / "loss.csv")
    assert len(loss) == 2 * 2 * 30
    tsne = read_csv(tmp_path / "fig" / "tsne.csv")
    assert sum(r["panel"] == "HashNet" for r in tsne) == 200 and len({r["series"] for r in tsne}) == 10


def test_precision_figure_draws_one_line_per_method_in_its_own_style(runs):
    found, *_ = stored.collect(metrics_files(runs), ["toy"], METHODS, BITS, [0])
    metrics = {(m, b): v for (_, m, b, _), v in found.items()}
    fig, _ = figures.precision_figure(metrics, METHODS, BITS, 32)
    for ax in fig.axes:
        assert [line.get_label() for line in ax.lines] == METHODS
    colours = [line.get_color() for line in fig.axes[0].lines]
    assert len(set(map(str, colours))) == len(METHODS)
    # a method outside the paper gets a style from its name alone, the same in every process
    code = "from hashbench.stages import figures; print(sorted(figures.style('MyMethod').items()))"
    seen = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert seen == {f"{sorted(figures.style('MyMethod').items())}\n"}
    assert colours[METHODS.index("HashNet")] == figures.style("HashNet")["color"]


def test_search_figure_plots_recall_against_the_fraction_examined(runs):
    found, *_ = stored.collect(metrics_files(runs), ["toy"], METHODS, BITS, [0])
    metrics = {(m, b): v for (_, m, b, _), v in found.items()}
    fig, rows = figures.search_figure(metrics, METHODS, 32)
    assert [line.get_label() for line in fig.axes[0].lines] == METHODS
    hashnet = [(x, y) for panel, method, x, y in rows if method == "HashNet"]
    pr = metrics["HashNet", 32]["pr_curve"]
    assert hashnet == list(zip(pr["examined"], pr["recall"])) and len(hashnet) == 33
    del metrics["DHN", 32]["pr_curve"]["examined"]
    with pytest.raises(HashbenchError, match=r"\(DHN, 32 bits\) have no pr_curve.examined .* re-run their evaluation"):
        figures.search_figure(metrics, METHODS, 32)


def test_imbalance_rows_pair_the_seeds_and_sort_protocols_by_their_ratio(digits_dir, tmp_path, default_config):
    from hashbench import config
    from hashbench.data import composed, splits
    from hashbench.stages import imbalance

    spec = config.split_spec(default_config, "digits")
    spec["split"] = {**spec["split"], "unseen": {"classes": [0, 1, 2]}}
    splits.prepare("held", spec, tmp_path / "held")
    rng = np.random.default_rng(3)
    root, files, expected = tmp_path / "runs", [], {}
    for protocol, directory in (("digits", digits_dir), ("held", tmp_path / "held")):
        n_queries = splits.load(directory).split["query"].size
        for bits in (16,):
            gaps = []
            for seed in SEEDS:
                for method in ("HashNet", "HashNet-W"):
                    m = fake_metrics(rng, protocol, method, bits, seed)
                    folder = layout.run_dir(protocol, method, bits, seed, root=root)
                    io.write_json(folder / "metrics.json", m)
                    io.save_npz(folder / layout.PER_QUERY, ap=np.full(n_queries, m["map"]) + rng.normal(0, 0.01, n_queries))
                    files.append(folder / "metrics.json")
                    gaps.append(m["map"] if method == "HashNet" else -m["map"])
            expected[protocol] = np.array(gaps).reshape(len(SEEDS), 2).sum(axis=1)
    table = imbalance.rows({"protocols": ["digits", "held"], "bits": [16], "seeds": SEEDS, "resamples": 1000},
                           files, [digits_dir, tmp_path / "held"])
    ratios = {p: composed.pair_ratio(splits.load(d).labels[splits.load(d).split["train"]])
              for p, d in (("digits", digits_dir), ("held", tmp_path / "held"))}
    assert [r[0] for r in table] == sorted(ratios, key=ratios.get)
    for row in table:
        protocol, ratio, bits, *_, mean, std, p, n = row
        assert ratio == ratios[protocol] and bits == 16 and n == 3 and 0 < p <= 1
        assert mean == pytest.approx(expected[protocol].mean()) and std == pytest.approx(expected[protocol].std(ddof=1))
    paths = imbalance.build({"protocols": ["digits", "held"], "bits": [16], "seeds": SEEDS, "resamples": 1000,
                             "alpha": 0.05}, files, [digits_dir, tmp_path / "held"], tmp_path / "fig")
    assert [p.name for p in paths] == ["imbalance.png", "imbalance.pdf", "imbalance.csv"]
    assert list(read_csv(tmp_path / "fig" / "imbalance.csv")[0]) == list(imbalance.COLUMNS)


def test_histogram_bars_are_square_roots_of_counts():
    g = {"HashNet": np.array([[0.0, 0.005, -0.5, 1.0], [0.999, -0.999, 0.25, 0.75]])}
    fig, rows = figures.histogram_figure(g)
    counts = np.array([r[3] for r in rows])
    assert counts.sum() == 8 and counts[0] == 2 and counts[99] == 3 and counts[50] == 1
    heights = np.array([patch.get_height() for patch in fig.axes[0].patches])
    np.testing.assert_allclose(heights, np.sqrt(counts))


def test_tsne_uses_at_most_ten_classes_and_is_seeded():
    labels = np.zeros((300, 12), dtype=np.uint8)
    labels[np.arange(300), np.arange(300) % 12] = 1
    labels[:5, 0] = labels[:5, 1] = 1  # two of the top classes: not drawn
    index, classes = figures.tsne_points(labels, 100, seed=3)
    again, _ = figures.tsne_points(labels, 100, seed=3)
    assert np.array_equal(index, again) and index.size == 100 and classes.max() <= 9
    assert not set(index) & set(range(5))


def test_claims_name_the_comparison_its_direction_and_the_test(runs, tmp_path):
    from hashbench.stages import claims

    rng = np.random.default_rng(3)
    base = rng.uniform(0.3, 0.9, 40)
    _set_per_query(runs, "toy", "HashNet", 16, lambda s: base + 0.1)       # far above the others
    _set_per_query(runs, "toy", "DHN", 16, lambda s: base)
    _set_per_query(runs, "toy", "LSH", 16, lambda s: base + 0.2)           # the only shallow method: above HashNet
    _set_per_query(runs, "toy", "HashNet-W", 16, lambda s: base + 0.1 - 0.001 * (s - 1))  # level with HashNet
    out = claims.build(spec(), metrics_files(runs), tmp_path / "out")
    got = {(r["claim"], r["b"]): r for r in out if r["protocol"] == "toy" and r["bits"] == 16}
    assert got["HashNet > strongest baseline", "LSH"]["verdict"] == "reversed"
    assert got["HashNet > DHN", "DHN"]["verdict"] == "holds" and got["HashNet > DHN", "DHN"]["p_value"] < 0.01
    assert got["HashNet > HashNet-W", "HashNet-W"]["verdict"] == "level"
    assert got["DHN > best shallow", "LSH"]["verdict"] == "reversed"
    assert not any(r["a"] in ("DNNH", "CNNH") or r["b"] in ("DNNH", "CNNH") for r in out)  # not configured
    row = got["HashNet > DHN", "DHN"]
    assert row["map_a"] - row["map_b"] == pytest.approx(0.1)
    md = (tmp_path / "out" / "claims.md").read_text()
    line = next(x for x in md.splitlines() if x.startswith("| HashNet > strongest baseline |"))
    assert line.split(" | ")[1].startswith("reversed (LSH, ")
    assert read_csv(tmp_path / "out" / "claims.csv")[0]["claim"] == "HashNet > strongest baseline"


def test_ph2_and_pn_tables_are_the_means_of_the_same_runs(runs, tmp_path):
    """Derived from the one tidy frame: P@H<=2, and P@N at the largest N every run of a protocol has."""
    tables.build(spec(), metrics_files(runs), tmp_path / "out")
    found, _, _ = stored.collect(metrics_files(runs), spec()["protocols"], METHODS, BITS, SEEDS)
    ph2 = {r["method"]: r for r in read_csv(tmp_path / "out" / "table1-ph2.csv")}
    pn = {r["method"]: r for r in read_csv(tmp_path / "out" / "table1-pn.csv")}
    assert set(ph2) == set(pn) == set(tables.table_methods("table1", METHODS))
    for method in ph2:
        values = [found["toy", method, 32, s]["p_h2"] for s in SEEDS]
        assert ph2[method]["toy/32bits/mean"] == f"{np.mean(values):.4f}"
        assert ph2[method]["toy/32bits/std"] == f"{np.std(values, ddof=1):.4f}"
        values = [found["inet", method, 16, s]["precision_at_n"]["20"] for s in SEEDS]
        assert pn[method]["inet P@20/16bits/mean"] == f"{np.mean(values):.4f}"
        assert "best" not in "".join(pn[method])  # no test marks them
    md = (tmp_path / "out" / "table1-pn.md").read_text()
    assert "| toy P@20 16 bits |" in md and "no test marks them" in md


def test_without_hashnet_table2_and_the_claims_say_why_in_one_line(runs, tmp_path):
    from hashbench.stages import claims

    shallow = spec(methods=["LSH", "MyMethod"])
    tables.build(shallow, metrics_files(runs), tmp_path / "out")
    claims.build(shallow, metrics_files(runs), tmp_path / "out")
    assert (tmp_path / "out/table2.md").read_text().splitlines()[-1] == (
        "Not made: none of its methods (HashNet, HashNet-W, HashNet-C) is configured.")
    text = (tmp_path / "out/claims.md").read_text()
    assert "No claim applies" in text and "(LSH, MyMethod)" in text and "|" not in text


def test_a_protocol_with_dropped_images_says_so_in_the_tables_caption(runs, tmp_path):
    """missing: drop leaves out the listed images a copy lacks: not the released split, and the tables say so."""
    for path in metrics_files(runs):
        metrics = io.read_json(path)
        if metrics["protocol"] == "inet":
            io.write_json(path, {**metrics, "missing_dropped": 1234})
    tables.build(spec(), metrics_files(runs), tmp_path / "out")
    for table in ("table1", "table2"):
        text = (tmp_path / "out" / f"{table}.md").read_text()
        assert ("- inet: 1,234 listed image(s) this copy lacks were dropped from every split (missing: drop; "
                "data/inet/split.json names them): not the released split") in text
        assert "toy: 0" not in text and text.count("dropped from every split") == 1
    assert {r["missing_dropped"] for r in read_csv(tmp_path / "out" / "metrics.csv") if r["protocol"] == "inet"} == {"1234"}
