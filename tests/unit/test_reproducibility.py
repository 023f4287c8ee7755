"""Where a run ran (hashbench.machine), whether it is degenerate (hashbench.health), CUDA determinism
settings that can be checked on a CPU, and the reproduction report (hashbench.stages.reproduction)."""

import json
import os
import warnings

import numpy as np
import pytest
import torch

from conftest import ROOT
from hashbench import health, io, machine
from hashbench.deep import backbones
from hashbench.deep.trainer import NondeterministicOps, make_deterministic
from hashbench.layout import CODES, METRICS, PER_QUERY, RUN_RECORD
from hashbench.stages import reproduction


# --- health ------------------------------------------------------------------------------------
def codes_of(bits: np.ndarray) -> np.ndarray:
    return np.where(bits, 1, -1).astype(np.int8)


def test_a_healthy_run_is_not_degenerate():
    rng = np.random.default_rng(0)
    got = health.diagnose(codes_of(rng.random((500, 16)) < 0.5), [[1, 1.0, 1.0], [2, 0.5, 0.5]])
    assert got["constant_bits"] == 0 and got["distinct_codes"] > 490 and got["loss_fell"] is True
    assert got["bit_balance"] < 0.15 and not got["degenerate"] and got["reasons"] == []


def test_dnnh_like_dead_bits_are_not_degenerate():
    rng = np.random.default_rng(2)
    bits = rng.random((400, 64)) < 0.5
    bits[:, :31] = True  # DNNH on mnist5k, 64 bits: up to 31 constant bits, MAP 0.91
    assert not health.diagnose(codes_of(bits))["degenerate"]


def test_one_code_per_class_is_not_degenerate():
    """The Classifier row: ten codewords, one per class, is a legitimate hash."""
    rng = np.random.default_rng(0)
    words = codes_of(rng.random((10, 16)) < 0.5)
    got = health.diagnose(words[rng.integers(0, 10, 400)])
    assert got["distinct_codes"] == 10 and got["loss_fell"] is None and not got["degenerate"]


@pytest.mark.parametrize("case, reason", [
    ("one code", "one code for the whole database"),
    ("mostly constant", "12 of 16 bits constant over the database"),
    ("flat loss", "the training loss did not fall by 1%"),
])
def test_each_part_of_the_rule_makes_a_run_degenerate(case, reason):
    rng = np.random.default_rng(1)
    bits = rng.random((300, 16)) < 0.5
    history = [[i + 1, 1.0 - 0.01 * i, 1.0] for i in range(20)]
    if case == "one code":
        bits[:] = True
    elif case == "mostly constant":
        bits[:, :12] = False
    else:
        history = [[i + 1, 1.82, 1.82] for i in range(600)]  # the plugin of issue 22: flat from 1 to 600
    got = health.diagnose(codes_of(bits), history)
    assert got["degenerate"] and reason in got["reasons"]


def test_a_loss_that_rises_or_turns_nan_did_not_fall():
    assert health.loss_fell([[1, 0.69, 0], [2, 0.8, 0], [3, 5.0, 0]]) is False
    assert health.loss_fell([[1, 0.69, 0], [2, 0.5, 0], [3, float("nan"), 0]]) is False
    assert health.loss_fell([]) is None


# --- machine -----------------------------------------------------------------------------------
def test_the_record_names_cpu_kernels_threads_and_versions():
    rec = machine.record("cpu", 2)
    assert rec["cpu"] and rec["arch"] and rec["threads"] == 2
    assert set(machine.PACKAGES) | {"python"} <= set(rec["versions"]) and rec["versions"]["numpy"] == np.__version__
    assert rec["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()  # torch is loaded here
    assert "cuda" not in rec and rec["key"] == machine.key(rec)
    assert machine.key({**rec, "threads": 1}) != rec["key"]
    assert machine.key({**rec, "versions": {**rec["versions"], "torch": "0.0"}}) != rec["key"]
    assert machine.key({**rec, "blas": []}) == rec["key"]  # what the key covers: cpu, isa, env, threads, versions


@pytest.mark.parametrize("flags, forced, expected", [
    ("fma avx2 avx512f avx512bw avx512vl avx512dq", None, "AVX512"),
    ("fma avx2 avx512f", None, "AVX2"),  # AVX-512 without BW/VL/DQ: torch stays at AVX2
    ("sse4_2", None, "DEFAULT"),
    ("fma avx2 avx512f avx512bw avx512vl avx512dq", "avx2", "AVX2"),
    ("fma avx2", "avx512", "AVX2"),  # torch never goes above what the CPU offers
])
def test_isa_follows_the_cpu_flags_and_aten_cpu_capability(flags, forced, expected, monkeypatch):
    monkeypatch.setattr(machine.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(machine, "_cpuinfo", lambda: {"model name": "Test CPU", "flags": flags})
    if forced:
        monkeypatch.setenv("ATEN_CPU_CAPABILITY", forced)
    else:
        monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    assert machine.isa() == expected and machine.cpu_model() == "Test CPU"


def test_the_kernel_variables_enter_the_record_and_the_key(monkeypatch):
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    plain = machine.record("cpu", 1)
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", "SSE41")
    forced = machine.record("cpu", 1)
    assert forced["env"]["DNNL_MAX_CPU_ISA"] == "SSE41" and forced["key"] != plain["key"]


def test_a_cuda_run_records_device_driver_versions_and_flags(monkeypatch):
    """What a CUDA run's record holds, with torch's CUDA queries stood in for (no GPU here)."""
    from types import SimpleNamespace

    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: SimpleNamespace(name="NVIDIA H200", major=9,
                                                                                       minor=0))
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 90100)
    monkeypatch.setattr(machine, "_driver_version", lambda i: "570.86")
    rec = machine.record("cuda", 1, ["adaptive_avg_pool2d_backward_cuda"])
    assert rec["cuda"]["device_name"] == "NVIDIA H200" and rec["cuda"]["compute_capability"] == "9.0"
    assert rec["cuda"]["driver"] == "570.86" and rec["cuda"]["cudnn"] == 90100 and "cuda" in rec["cuda"]
    assert {"tf32_matmul", "tf32_cudnn", "cudnn_deterministic", "cudnn_benchmark", "deterministic_algorithms"} <= set(
        rec["cuda"])
    assert rec["cuda"]["nondeterministic_ops"] == ["adaptive_avg_pool2d_backward_cuda"]
    assert rec["key"] != machine.record("cpu", 1)["key"]  # the device is part of the key
    monkeypatch.setattr(machine, "_driver_version", lambda i: "580.00")
    assert machine.record("cuda", 1)["key"] != rec["key"]


# --- determinism -------------------------------------------------------------------------------
def test_ops_without_a_deterministic_kernel_are_collected_and_other_warnings_shown():
    from torch._prims_common import alert_not_deterministic

    make_deterministic(torch.device("cpu"))
    assert torch.are_deterministic_algorithms_enabled()
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with NondeterministicOps() as ops:
            for _ in range(3):
                alert_not_deterministic("fake_pool_backward_cuda")  # torch's alert for such an op
            warnings.warn("something else")
    assert ops.ops == ["fake_pool_backward_cuda"]
    assert [str(w.message) for w in shown] == ["something else"]


def test_cuda_jobs_ask_for_deterministic_kernels(monkeypatch):
    """cuBLAS's fixed workspace (a user's own setting kept) and cuDNN without autotuning; settable
    without a GPU, before any CUDA work."""
    before = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    try:
        monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
        torch.backends.cudnn.benchmark = True
        make_deterministic(torch.device("cuda"))
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
        make_deterministic(torch.device("cuda"))
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before


def test_alexnet_skips_its_adaptive_pool_where_it_is_the_identity(monkeypatch):
    """On a 224 crop the features are 6x6: torchvision's adaptive pool (no deterministic CUDA backward)
    is the identity there and is not run; on another size it is."""
    net, _ = backbones.create("alexnet", False, None, 3, (224, 224))
    net.eval()  # no dropout
    calls = []
    net.avgpool.register_forward_hook(lambda *args: calls.append(1))
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        out = net(x)
        pooled = net.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(net.features(x), 6), 1))
    torch.testing.assert_close(out, pooled, rtol=0, atol=0)
    assert calls == []
    with torch.no_grad():
        net(torch.rand(1, 3, 256, 256))
    assert calls == [1]


# --- the reproduction report --------------------------------------------------------------------
METHODS, BITS, SEEDS = ["A", "B"], [8, 16], [0, 1]


def spec(**over):
    return {"protocols": {"toy": {"topk": 50}}, "order": ["toy"], "methods": METHODS, "bits": BITS, "seeds": SEEDS,
            "partial": False, "alpha": 0.05, "resamples": 2000, "no_relevant": "zero", **over}


def write_runs(root, shift=None, flip=(), config_hash="h"):
    """Stored runs of a toy protocol: random codes and per-query AP; ``shift`` adds to the AP of
    (method, bits) cells, ``flip`` changes their codes."""
    files = []
    for method in METHODS:
        for bits in BITS:
            for seed in SEEDS:
                rng = np.random.default_rng([METHODS.index(method), bits, seed])
                query, database = codes_of(rng.random((40, bits)) < 0.5), codes_of(rng.random((100, bits)) < 0.5)
                ap = rng.random(40) * 0.5 + 0.25
                if (method, bits) in (shift or {}):
                    ap = np.clip(ap + shift[method, bits] + 0.02 * rng.standard_normal(40), 0, 1)
                if (method, bits) in flip:
                    database[0] *= -1
                folder = root / f"{method}/{bits}/{seed}"
                folder.mkdir(parents=True)
                io.save_codes(folder / CODES, query, database)
                io.save_npz(folder / PER_QUERY, ap=ap)
                io.write_json(folder / RUN_RECORD, {"machine": {"key": "abcd1234", "cpu": "Test CPU", "isa": "AVX2",
                                                                "threads": 1, "versions": {"torch": "2"}}})
                io.write_json(folder / METRICS, {"protocol": "toy", "method": method, "bits": bits, "seed": seed,
                                                 "map": float(ap.mean()), "config_hash": config_hash,
                                                 "map_at": {"5": float(ap.mean())}, "p_h2": 0.5 + seed / 10})
                files.append(folder / METRICS)
    return files


def by_cell(rows):
    return {(r["method"], r["bits"]): r for r in rows}


def test_the_reference_run_reproduces_itself_bit_for_bit(tmp_path):
    runs = write_runs(tmp_path / "runs")
    written = reproduction.write_reference(spec(), runs, tmp_path / "ref")
    assert sorted(p.name for p in written) == ["toy.json", "toy.npz"]
    meta = json.loads((tmp_path / "ref/toy.json").read_text())
    assert meta["machines"]["abcd1234"]["cpu"] == "Test CPU" and set(meta["cells"]) == {"A/8", "A/16", "B/8", "B/16"}
    cell = meta["cells"]["A/8"]  # each seed's MAP, MAP@R and P@H<=2, for the docs' generated values
    assert len(cell["maps"]) == len(cell["codes"]) == len(cell["map_at"]["5"]) and cell["maps"] == cell["map_at"]["5"]
    assert cell["p_h2"] == pytest.approx([0.5 + s / 10 for s in spec()["seeds"]])
    rows = reproduction.build(spec(), runs, tmp_path / "out", reference_dir=tmp_path / "ref")
    assert {r["verdict"] for r in rows} == {"bit-identical"} and all(r["difference"] == 0 for r in rows)
    report = (tmp_path / "out/reproduction.md").read_text()
    assert "- toy: 4 of 4 cells bit-identical with the reference (every seed's codes)" in report
    assert "reference machine abcd1234: Test CPU (AVX2)" in report


def test_other_codes_are_tested_and_a_real_difference_is_found(tmp_path):
    reference = write_runs(tmp_path / "ref_runs")
    reproduction.write_reference(spec(), reference, tmp_path / "ref")
    ours = write_runs(tmp_path / "runs", shift={("A", 8): 0.0, ("B", 16): 0.2}, flip=[("A", 8), ("B", 16)])
    rows = by_cell(reproduction.build(spec(), ours, tmp_path / "out", reference_dir=tmp_path / "ref"))
    assert rows["A", 8]["verdict"] == "agrees" and rows["A", 8]["p"] >= 0.05  # noise of 0.02 per query
    assert rows["B", 16]["verdict"] == "differs" and rows["B", 16]["p"] < 0.001
    assert rows["B", 16]["difference"] == pytest.approx(0.2, abs=0.05)
    assert rows["A", 16]["verdict"] == rows["B", 8]["verdict"] == "bit-identical"
    summary = (tmp_path / "out/reproduction.md").read_text().splitlines()[2]
    assert summary.startswith("- toy: 3 of 4 cells agree at alpha 0.05 (2 bit-identical")
    assert "(B, 16 bits), 1 of 2 within the larger seed std" in summary
    assert rows["A", 8]["within_spread"] and not rows["B", 16]["within_spread"]
    with open(tmp_path / "out/reproduction.csv") as fh:
        assert fh.readline().strip() == ("protocol,method,bits,mean,reference,difference,p,p_holm,verdict,within_spread,"
                                         "source")


def test_another_config_or_evaluation_is_not_compared(tmp_path):
    reproduction.write_reference(spec(), write_runs(tmp_path / "ref_runs"), tmp_path / "ref")
    other = write_runs(tmp_path / "runs", config_hash="other")
    rows = reproduction.build(spec(), other, tmp_path / "out", reference_dir=tmp_path / "ref")
    assert {r["verdict"] for r in rows} == {"config differs"}
    rows = reproduction.build(spec(no_relevant="exclude"), write_runs(tmp_path / "runs2"), tmp_path / "out",
                              reference_dir=tmp_path / "ref")
    assert {r["verdict"] for r in rows} == {"config differs"}
    assert "toy: no cell compared (4 cells" in (tmp_path / "out/reproduction.md").read_text()


def test_a_subset_of_the_reference_seeds_is_compared_seed_by_seed_for_bit_identity(tmp_path):
    """make quick's seed 0 against a reference of seeds 0 and 1: its codes, its config hash and its MAP."""
    reference = write_runs(tmp_path / "ref_runs")
    reproduction.write_reference(spec(), reference, tmp_path / "ref")
    seed0 = [f for f in write_runs(tmp_path / "runs", flip=[("B", 16)]) if f.parent.name == "0"]
    rows = by_cell(reproduction.build(spec(seeds=[0]), seed0, tmp_path / "out", reference_dir=tmp_path / "ref"))
    assert rows["A", 8]["verdict"] == rows["B", 8]["verdict"] == "bit-identical"
    assert rows["A", 8]["reference"] == json.loads((tmp_path / "ref_runs/A/8/0" / METRICS).read_text())["map"]
    assert rows["A", 8]["difference"] == 0
    assert rows["B", 16]["verdict"] == "config differs" and rows["B", 16]["p"] is None  # other codes: no AP to test
    other = [f for f in write_runs(tmp_path / "other", config_hash="x") if f.parent.name == "0"]
    rows = reproduction.build(spec(seeds=[0]), other, tmp_path / "out", reference_dir=tmp_path / "ref")
    assert {r["verdict"] for r in rows} == {"config differs"}


def test_a_paper_protocol_is_compared_with_the_papers_value_without_a_test(tmp_path):
    paper = spec(protocols={"toy": {"topk": 50, "paper": "imagenet"}}, methods=["HashNet", "DHN"], bits=[16])
    files = []
    for method in ("HashNet", "DHN"):
        for seed in SEEDS:
            folder = tmp_path / f"runs/{method}/{seed}"
            folder.mkdir(parents=True)
            io.write_json(folder / METRICS, {"protocol": "toy", "method": method, "bits": 16, "seed": seed, "map": 0.5,
                                             "config_hash": "h"})
            files.append(folder / METRICS)
    rows = by_cell(reproduction.build(paper, files, tmp_path / "out", reference_dir=tmp_path / "none"))
    assert rows["HashNet", 16]["verdict"] == "paper" and rows["HashNet", 16]["reference"] == pytest.approx(0.4420)
    assert rows["HashNet", 16]["difference"] == pytest.approx(0.5 - 0.4420) and rows["HashNet", 16]["p"] is None
    assert "toy: 2 cells against the paper's values (no per-query test)" in (tmp_path / "out/reproduction.md").read_text()


def test_the_shipped_reference_matches_the_default_config():
    """The reference run shipped for the default benchmark was made with today's default config:
    every cell's config hashes are those the workflow gives its runs."""
    from hashbench import config, settings

    cfg = config.load(ROOT / "config" / "config.yaml")
    for protocol in cfg["protocols"]:
        ref = reproduction.load_reference(protocol)
        assert ref is not None, f"no reference run shipped for the default protocol {protocol}"
        meta, arrays = ref
        assert meta["seeds"] == cfg["seeds"] and meta["topk"] == cfg["protocol_defs"][protocol]["topk"]
        for method in cfg["methods"]:
            for bits in cfg["bits"]:
                cell = meta["cells"][f"{method}/{bits}"]
                hashes = [settings.digest(config.run_spec(cfg, protocol, method, bits, s)) for s in cfg["seeds"]]
                assert cell["config_hashes"] == hashes, (method, bits)
                assert arrays[f"{method}/{bits}"].mean() == pytest.approx(cell["mean"], abs=1e-12)
        assert meta["machines"], "the reference records the machine it ran on"
