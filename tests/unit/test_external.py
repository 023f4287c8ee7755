"""Codes trained outside hashbench: the exported split, the code files `score` and the workflow's
external_codes rule take, and a clear line for each wrong file."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from hashbench import io, layout
from hashbench.data import splits
from hashbench.errors import HashbenchError
from hashbench.stages import external


@pytest.fixture(scope="module")
def exported(digits_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    external.export_split(digits_dir, out)
    return out


def outside_codes(exported, bits=16, seed=0):
    """A method trained outside hashbench, in a few lines of numpy: least squares from the pixels to
    the labels, then a random projection to ``bits`` signs (the exported order)."""
    d = np.load(exported / "split.npz")
    flat = {s: d[f"{s}_images"].reshape(len(d[f"{s}_images"]), -1) / 16.0 for s in ("train", "query", "database")}
    weights = np.linalg.lstsq(flat["train"], d["train_labels"] * 2.0 - 1, rcond=None)[0]
    project = weights @ np.random.default_rng(seed).standard_normal((weights.shape[1], bits))
    return np.sign(flat["query"] @ project), np.sign(flat["database"] @ project)


def test_the_export_lists_every_set_in_the_split_order_with_labels_and_images(digits_dir, exported):
    data = splits.load(digits_dir)
    arrays = np.load(exported / "split.npz")
    for name in splits.SPLITS:
        lines = (exported / f"{name}.txt").read_text().splitlines()
        assert len(lines) == data.split[name].size
        first = lines[0].split()
        assert int(first[0]) == data.split[name][0] and list(map(int, first[1:])) == data.labels[data.split[name][0]].tolist()
        assert (arrays[f"{name}_ids"] == data.split[name]).all()
        assert (arrays[f"{name}_labels"] == data.labels[data.split[name]]).all()
        assert (arrays[f"{name}_images"] == data.items()[data.split[name]]).all()
    meta = json.loads((exported / "export.json").read_text())
    assert meta["checksum"] == data.checksum and meta["sizes"]["query"] == 100


def test_codes_in_every_accepted_form_read_the_same(digits_dir, exported, tmp_path):
    data = splits.load(digits_dir)
    query, database = outside_codes(exported)
    np.savez(tmp_path / "signs.npz", query=query, database=database)
    np.savez(tmp_path / "bits.npz", query=(query > 0).astype(np.uint8), database=database > 0)  # 0/1 and bool
    np.save(tmp_path / "stacked.npy", np.vstack([query, database]))
    order_q, order_db = np.random.default_rng(1).permutation(len(query)), np.random.default_rng(2).permutation(len(database))
    ids = np.load(exported / "split.npz")
    np.savez(tmp_path / "keyed.npz", query=query[order_q], database=database[order_db],
             query_ids=ids["query_ids"][order_q], database_ids=ids["database_ids"][order_db])
    expected = external.read_codes(tmp_path / "signs.npz", data, 16)
    assert expected["query"].dtype == np.int8 and (expected["query"] == query).all()
    for name in ("bits.npz", "stacked.npy", "keyed.npz"):
        got = external.read_codes(tmp_path / name, data, 16)
        assert all((got[s] == expected[s]).all() for s in ("query", "database")), name


@pytest.mark.parametrize("case, message", [
    ("shape", r"bad\.npz: database codes: expected shape \(1697, 16\), got \(1696, 16\)"),
    ("bits", r"bad\.npz: query codes: expected shape \(100, 16\), got \(100, 8\)"),
    ("values", r"bad\.npz: query holds the values -0\.5, 0\.5; expected -1/\+1 or 0/1 codes"),
    ("ids", r"bad\.npz: query_ids are not the 100 exported query ids \('99999' is not one of them\)"),
    ("missing", r"bad\.npz: no array database; expected arrays query"),
    ("stacked", r"bad\.npy: expected a \(1797, bits\) matrix \(100 queries, then 1697 database items\), got shape \(1797,\)"),
    ("suffix", r"bad\.txt: expected a \.npz or \.npy code file"),
])
def test_a_wrong_code_file_is_one_line_naming_it(digits_dir, exported, tmp_path, case, message):
    data = splits.load(digits_dir)
    query, database = outside_codes(exported)
    ids = np.load(exported / "split.npz")["query_ids"].copy()
    ids[0] = 99999
    bad = {"shape": dict(query=query, database=database[1:]), "bits": dict(query=query[:, :8], database=database),
           "values": dict(query=query / 2, database=database), "ids": dict(query=query, database=database, query_ids=ids),
           "missing": dict(query=query)}
    if case in bad:
        path = tmp_path / "bad.npz"
        np.savez(path, **bad[case])
    else:
        path = tmp_path / ("bad.npy" if case == "stacked" else "bad.txt")
        np.save(path, np.ones(1797)) if case == "stacked" else path.write_text("1 0\n")
    with pytest.raises(HashbenchError, match=message):
        external.read_codes(path, data, 16)


def test_score_stores_a_run_and_prints_its_map(digits_dir, exported, tmp_path, cli_env):
    query, database = outside_codes(exported, bits=32)
    np.savez(tmp_path / "mine.npz", query=query, database=database)
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "hashbench", "score", "--data", str(digits_dir), "--codes",
                           str(tmp_path / "mine.npz"), "--method", "Mine", "--seed", "3", "--out", str(out),
                           "--default", str(ROOT / "config/config.yaml")],
                          capture_output=True, text=True, env=cli_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / layout.METRICS).read_text())
    assert metrics["method"] == "Mine" and metrics["bits"] == 32 and metrics["seed"] == 3 and metrics["topk"] == 500
    assert f"MAP@500 {metrics['map']:.4f}" in done.stdout
    assert metrics["map"] > 0.5  # least squares to the labels: far above chance (0.1) on the digits
    run = json.loads((out / layout.RUN_RECORD).read_text())
    assert run["spec"]["external"]["sha256"] == io.file_sha256(tmp_path / "mine.npz") and run["fit_seconds"] is None
    stored_q, _ = io.load_codes(out / layout.CODES)
    assert (stored_q == query).all()
