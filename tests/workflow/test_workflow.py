"""The Snakemake workflow as a user runs it, on a tiny config, with a third-party plugin."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from conftest import ROOT, fake_nvidia_smi
from fake_plugin import write_plugin

pytestmark = pytest.mark.slow  # the workflow as a user runs it: minutes

TINY = {
    "protocols": ["digits"],
    "methods": ["ITQ", "LSH", "COORD", "HashNet", "FLAT"],
    "bits": [8, 16],
    "seeds": [0, 1],
    "method_params": {"ITQ": {"n_iter": 50}, "HashNet": {"iterations": 20}, "FLAT": {"iterations": 20}},
    "execution": {"checkpoint_every": 5},
    "figures": {"tsne_points": 100, "out": "figures"},
    "tables": {"out": "results"},  # named: another config's tables go where it says (config.output_dirs)
    "selection": {"grid": {"HashNet": {"lr": [0.001, 0.01]}}},
}


def snakemake_command(workdir, *args, config=TINY):
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(config))
    return [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(workdir / "tiny.yaml"), "--cores", "2", *args]


def snakemake(workdir, env, *args, config=TINY):
    return subprocess.run(snakemake_command(workdir, *args, config=config), capture_output=True, text=True, env=env,
                          cwd=workdir)


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    env = dict(os.environ)
    env["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(write_plugin(workdir / "plugin"))
    out = snakemake(workdir, env, "report")
    assert out.returncode == 0, out.stderr[-3000:]
    (workdir / "first-run.stderr").write_text(out.stderr)
    return workdir, env


def read_table(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_table1_cells_are_the_mean_over_seeds_of_stored_runs(workflow_run):
    workdir, _ = workflow_run
    rows = read_table(workdir / "results" / "table1.csv")
    assert [r["method"] for r in rows] == ["HashNet", "ITQ", "LSH", "COORD", "FLAT"]  # the paper's order, then the config's
    for row in rows:
        for bits in (8, 16):
            maps = [json.loads((workdir / f"results/runs/digits/{row['method']}/{bits}bits/seed{s}/metrics.json")
                               .read_text())["map"] for s in (0, 1)]
            assert float(row[f"digits/{bits}bits/map_mean"]) == pytest.approx(np.mean(maps), abs=5e-5)
            assert float(row[f"digits/{bits}bits/map_std"]) == pytest.approx(np.std(maps, ddof=1), abs=5e-5)
            assert row[f"digits/{bits}bits/n_seeds"] == "2"


def test_every_run_stores_codes_metadata_and_all_metrics(workflow_run):
    workdir, _ = workflow_run
    checksum = json.loads((workdir / "data/digits/split.json").read_text())["checksum"]
    run_dir = workdir / "results/runs/digits/ITQ/16bits/seed1"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    run = json.loads((run_dir / "run.json").read_text())
    assert {"map", "map_tie_aware", "p_h2", "precision_at_n", "pr_curve", "fit_seconds", "encode_seconds",
            "config_hash", "split_checksum", "seed"} <= set(metrics)
    assert metrics["split_checksum"] == run["split_checksum"] == checksum
    deep = json.loads((workdir / "results/runs/digits/HashNet/16bits/seed1/run.json").read_text())
    assert deep["threads"] == run["threads"] == 1  # a job's threads: torch's CPU results depend on them
    per_query = np.load(run_dir / "per_query.npz")  # each query's AP, for the tables' significance tests
    assert per_query["ap"].shape == (100,) and per_query["ap"].mean() == pytest.approx(metrics["map"])
    assert len(run["loss_history"]) == 50 and run["params"] == {"n_iter": 50}
    assert metrics["topk"] == 500 and len(metrics["pr_curve"]["precision"]) == 17
    assert metrics["pr_curve"]["examined"][-1] == 1.0  # radius K holds the whole database
    assert (workdir / "logs/train/digits/ITQ/16bits/seed1.log").read_text().count("loss") >= 50
    # ITQ and LSH beat thresholding raw coordinates, and more bits help ITQ
    table = {r["method"]: r for r in read_table(workdir / "results/table1.csv")}
    assert float(table["ITQ"]["digits/16bits/map_mean"]) > float(table["COORD"]["digits/16bits/map_mean"])


def test_every_run_records_the_machine_it_ran_on(workflow_run):
    workdir, _ = workflow_run
    metrics = read_table(workdir / "results/metrics.csv")
    for kind in ("ITQ", "HashNet"):
        run = json.loads((workdir / f"results/runs/digits/{kind}/16bits/seed1/run.json").read_text())
        record = run["machine"]
        assert record["cpu"] and record["isa"] and record["threads"] == 1
        assert {"python", "torch", "numpy", "scipy", "scikit-learn", "numba"} <= set(record["versions"])
        assert re.fullmatch(r"[0-9a-f]{8}", record["key"]) and "cuda" not in record  # no GPU here
        row = next(r for r in metrics if r["method"] == kind and r["bits"] == "16" and r["seed"] == "1")
        assert row["machine"] == record["key"]
    deep = json.loads((workdir / "results/runs/digits/HashNet/16bits/seed1/run.json").read_text())["machine"]
    assert deep["torch_cpu_capability"]  # torch's kernel level, where torch was loaded


def test_a_collapsed_run_is_flagged_in_its_record_the_tables_and_the_log(workflow_run):
    """FLAT's loss passes no gradient: the run is degenerate, its cells are marked, the job warns."""
    workdir, _ = workflow_run
    run = json.loads((workdir / "results/runs/digits/FLAT/16bits/seed0/run.json").read_text())
    assert run["health"]["degenerate"] and run["health"]["loss_fell"] is False
    assert "did not fall" in run["health"]["reasons"][0]
    itq = json.loads((workdir / "results/runs/digits/ITQ/16bits/seed0/run.json").read_text())
    assert not itq["health"]["degenerate"] and itq["health"]["constant_bits"] == 0
    assert "WARNING degenerate run: FLAT" in (workdir / "logs/train/digits/FLAT/16bits/seed0.log").read_text()
    rows = read_table(workdir / "results/metrics.csv")
    assert {r["degenerate"] for r in rows if r["method"] == "FLAT"} == {"True"}
    assert {r["degenerate"] for r in rows if r["method"] == "ITQ"} == {"False"}
    table = {r["method"]: r for r in read_table(workdir / "results/table1.csv")}
    assert table["FLAT"]["digits/16bits/degenerate_seeds"] == "2" and table["ITQ"]["digits/16bits/degenerate_seeds"] == "0"
    md = (workdir / "results/table1.md").read_text()
    flat_row = next(line for line in md.splitlines() if line.startswith("| FLAT"))
    itq_row = next(line for line in md.splitlines() if line.startswith("| ITQ"))
    assert flat_row.count("⚠") == 2 and "⚠" not in itq_row and "⚠: a seed's run is degenerate" in md
    # and the console says so when the workflow ends, one line per run
    console = (workdir / "first-run.stderr").read_text()
    flagged = [r for r in rows if r["degenerate"] == "True"]
    assert f"hashbench: {len(flagged)} degenerate run(s), their cells marked ⚠ in the tables:" in console
    for bits in (8, 16):
        for seed in (0, 1):
            assert f"  FLAT on digits, {bits} bits, seed {seed}: the training loss did not fall by 1%" in console


def test_the_reproduction_report_finds_a_rerun_bit_identical(workflow_run):
    """The workflow's own runs as the reference: every cell is bit-identical."""
    workdir, env = workflow_run
    out = snakemake(workdir, env, "reference")
    assert out.returncode == 0, out.stderr[-3000:]
    from hashbench import config as hbconfig
    from hashbench.stages import reproduction

    defaults = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    spec = hbconfig.tables_spec({**TINY, "protocol_defs": defaults["protocol_defs"], "evaluation": {"no_relevant": "zero"},
                                 "tables": {"partial": False, "alpha": 0.05, "resamples": 10000}})
    metrics = sorted(str(p) for p in (workdir / "results/runs").glob("*/*/*/*/metrics.json"))
    rows = reproduction.build(spec, metrics, workdir / "check", reference_dir=workdir / "results/reference")
    assert {r["verdict"] for r in rows} == {"bit-identical"} and len(rows) == 5 * 2
    report = (workdir / "check/reproduction.md").read_text()
    assert "digits: 10 of 10 cells bit-identical with the reference" in report
    # the workflow's own report: no reference ships for the digits protocol
    shipped = read_table(workdir / "results/reproduction.csv")
    assert {r["verdict"] for r in shipped} == {"no reference"}


def test_a_method_with_a_grid_trains_with_the_value_chosen_on_the_validation_hold_out(workflow_run):
    """Rule select runs once per (protocol, method) at the longest length and the first seed; every
    run of the method then trains with the choice and records it."""
    workdir, _ = workflow_run
    chosen = json.loads((workdir / "results/selection/digits/HashNet.json").read_text())
    assert (chosen["bits"], chosen["seed"]) == (16, 0) and [s["params"] for s in chosen["scores"]] == [
        {"lr": 0.001}, {"lr": 0.01}]
    best = max(chosen["scores"], key=lambda s: s["map"])
    assert chosen["chosen"] == best["params"] and 0 < chosen["validation"]["items"] < 1000
    for bits in (8, 16):
        for seed in (0, 1):
            run = json.loads((workdir / f"results/runs/digits/HashNet/{bits}bits/seed{seed}/run.json").read_text())
            assert run["params"]["lr"] == chosen["chosen"]["lr"] and run["selection"]["chosen"] == chosen["chosen"]
    assert json.loads((workdir / "results/runs/digits/LSH/8bits/seed0/run.json").read_text())["selection"] == {}
    assert not (workdir / "results/selection/digits/LSH.json").exists()


def test_the_selections_gather_into_a_tuning_record_that_a_config_can_name(workflow_run):
    """make tune's last rule on the tiny workflow's selection; a run.json records the optimiser it
    trained with, the chosen learning rate included."""
    workdir, env = workflow_run
    out = snakemake(workdir, env, "results/tuning.json")
    assert out.returncode == 0, out.stderr[-3000:]
    record = json.loads((workdir / "results/tuning.json").read_text())
    chosen = json.loads((workdir / "results/selection/digits/HashNet.json").read_text())
    assert record["recipe"] == "released" and record["protocols"]["digits"]["HashNet"]["chosen"] == chosen["chosen"]
    run = json.loads((workdir / "results/runs/digits/HashNet/8bits/seed0/run.json").read_text())
    assert run["optimiser"]["optimizer"] == "sgd" and run["optimiser"]["lr"] == chosen["chosen"]["lr"]
    assert run["optimiser"]["lr_step"] == 4  # HashNet's released schedule: x0.5 after each fifth of 20 iterations
    out = snakemake(workdir, env, "-n", "results/table1.csv", config={**TINY, "selection": {}, "tuning": "results/tuning.json"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "results/runs/digits/HashNet/8bits/seed0" in out.stdout  # the record's lr is the run's identity now


def test_rerun_has_nothing_to_do_and_codes_are_reproducible(workflow_run):
    workdir, env = workflow_run
    out = snakemake(workdir, env, "results/table1.csv", "-n")
    assert out.returncode == 0 and "Nothing to be done" in out.stdout + out.stderr
    run_dir = workdir / "results/runs/digits/LSH/8bits/seed0"
    before = (run_dir / "codes.npz").read_bytes()
    (run_dir / "codes.npz").unlink()
    assert snakemake(workdir, env, str(run_dir.relative_to(workdir) / "codes.npz")).returncode == 0
    assert (run_dir / "codes.npz").read_bytes() == before


def test_report_embeds_tables_and_figures_with_captions(workflow_run):
    workdir, env = workflow_run
    for name in ("precision", "loss", "histogram", "tsne"):
        for ext in ("png", "pdf", "csv"):
            assert (workdir / f"figures/digits/{name}.{ext}").stat().st_size > 0
    assert [r["method"] for r in read_table(workdir / "results/table2.csv")] == ["HashNet"]
    assert len(read_table(workdir / "results/metrics.csv")) == 5 * 2 * 2
    out = snakemake(workdir, env, "--report", "report.html", "report")
    assert out.returncode == 0, out.stderr[-3000:]
    html = (workdir / "report.html").read_text()
    assert "Protocol digits, 16 bits, seed" in html and "Protocol digits, seed 0 (HashNet Figs. 2-4)" in html
    assert all(f"\"{name}\"" in html for name in ("precision.png", "tsne.png", "table1.csv", "metrics.csv"))


def test_bad_config_fails_before_any_job(tmp_path, cli_env):
    out = snakemake(tmp_path, cli_env, "results/table1.csv", config={**TINY, "methods": ["ITQ"], "bits": [8, 129]})
    assert out.returncode != 0
    assert "hashbench: config field 'bits[1]': 129 is greater than the maximum of 128" in out.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "data").exists()


def test_unknown_method_fails_clearly(tmp_path, cli_env):
    out = snakemake(tmp_path, cli_env, "results/table1.csv", config={**TINY, "methods": ["HashNot"]})
    assert out.returncode != 0
    assert "config field 'methods[0]': unknown method 'HashNot'" in out.stderr


def test_corrupt_split_stops_training_without_partial_results(workflow_run, tmp_path, cli_env):
    workdir, _ = workflow_run
    data = tmp_path / "data"
    data.mkdir()
    for name in ("dataset.npz", "split.json", "features-pixels.npy"):
        (data / name).write_bytes((workdir / "data/digits" / name).read_bytes())
    (data / "split.npz").write_bytes(b"garbage")
    spec = json.loads((workdir / "results/runs/digits/LSH/8bits/seed0/run.json").read_text())["spec"]
    out_dir = tmp_path / "run"
    out = subprocess.run([sys.executable, "-m", "hashbench", "train", "--spec", json.dumps(spec), "--data", str(data),
                          "--out", str(out_dir)], capture_output=True, text=True, env=cli_env)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [f"hashbench: error: {data / 'split.npz'}: not a readable .npz file "
                                               "(not a zip archive)"]
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_snakemake_lint_is_clean(cli_env):
    out = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], capture_output=True, text=True, cwd=ROOT,
                         env=cli_env)
    assert out.returncode == 0
    assert "Lints for" not in out.stdout + out.stderr


@pytest.mark.parametrize("gpu", [False, True])
def test_deep_jobs_hold_the_gpu_only_where_one_will_run_them(tmp_path, cli_env, gpu):
    """Without a GPU, deep jobs hold no gpu resource (they run side by side) and one CPU thread each
    (their codes depend on torch's threads); with one (a stand-in nvidia-smi lists it) they hold it."""
    env = dict(cli_env)
    if gpu:
        (tmp_path / "bin").mkdir()
        fake = fake_nvidia_smi(tmp_path / "bin", "GPU 0: NVIDIA H100 (UUID: GPU-0)\\n")
        env["PATH"] = f"{fake.parent}{os.pathsep}{env['PATH']}"
        env.pop("CUDA_VISIBLE_DEVICES", None)
    else:
        env["CUDA_VISIBLE_DEVICES"] = ""
    out = snakemake(tmp_path, env, "-n", "-p", "results/table1.csv",
                    config={**TINY, "methods": ["ITQ", "LSH", "HashNet"], "selection": {},
                            "method_params": {"HashNet": TINY["method_params"]["HashNet"]}})
    assert out.returncode == 0, out.stderr[-3000:]
    jobs = re.findall(r"rule (train\w*|select):\n.*?resources: ([^\n]*)\nShell command: [^\n]*--threads (\d+)",
                      out.stdout, re.S)
    deep = [(resources, threads) for rule, resources, threads in jobs if rule == "train_gpu"]
    shallow = [(resources, threads) for rule, resources, threads in jobs if rule == "train"]
    assert len(deep) == 4 and len(shallow) == 8  # 2 bits x 2 seeds
    assert all(f"gpu={int(gpu)}" in resources and threads == "1" for resources, threads in deep)
    assert all("gpu" not in resources for resources, _ in shallow)


def test_a_killed_snakemake_is_unlocked_and_the_same_command_resumes_training(tmp_path, cli_env):
    """SIGKILL leaves Snakemake's lock behind: ``snakemake --unlock``, then the same command, and the
    killed training job resumes from its checkpoint (profiles/default: rerun-incomplete)."""
    config = {**TINY, "methods": ["HashNet"], "bits": [8], "seeds": [0], "selection": {},
              "method_params": {"HashNet": {"iterations": 300}}, "execution": {"checkpoint_every": 10}}
    run = tmp_path / "results/runs/digits/HashNet/8bits/seed0"
    job = subprocess.Popen(snakemake_command(tmp_path, "results/table1.csv", config=config), env=cli_env,
                           cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not (run / "checkpoint.pt").exists() and job.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    assert (run / "checkpoint.pt").exists() and not (run / "codes.npz").exists()
    locked = snakemake(tmp_path, cli_env, "results/table1.csv", config=config)
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr
    assert snakemake(tmp_path, cli_env, "--unlock", config=config).returncode == 0
    out = snakemake(tmp_path, cli_env, "results/table1.csv", config=config)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "resuming from" in (tmp_path / "logs/train/digits/HashNet/8bits/seed0.log").read_text()
    assert (run / "codes.npz").exists() and not (run / "checkpoint.pt").exists()


def test_nested_command_line_values_are_read_as_yaml_and_name_their_own_folder(tmp_path, cli_env):
    """--config 'training={"iterations": 100}' 'tables={"partial": true, ...}' as docs/workflow.md shows them."""
    shallow = {**TINY, "methods": ["ITQ", "LSH"], "method_params": {"ITQ": {"n_iter": 50}}, "selection": {}}
    out = snakemake(tmp_path, cli_env, "-n", "all", "--config", 'training={"iterations": 100}',
                    'tables={"partial": true, "out": "results/mine"}', "methods=[ITQ,LSH]", config=shallow)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "results/mine/table1.csv" in out.stdout
    unnamed = {k: v for k, v in shallow.items() if k != "tables"}  # no tables.out: a folder named after what differs
    out = snakemake(tmp_path, cli_env, "-n", "all", config=unnamed)
    assert out.returncode == 0, out.stderr[-3000:]
    assert re.search(r"results/protocols-methods-bits-seeds-[0-9a-f]{6}/table1\.csv", out.stdout), out.stdout[-2000:]
    assert "results/table1.csv" not in out.stdout
