"""The README and docs/: the results tables equal the shipped reference runs, every relative link
resolves, and the README stays a front page."""

import json
import re
from pathlib import Path

import pytest
import yaml

from hashbench.errors import HashbenchError
from hashbench.stages import doc_tables, doc_values

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md")),
         *sorted((ROOT / "examples").glob("*/README.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown file (lower case, punctuation dropped, spaces to hyphens)."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", text, re.M)}


def test_results_keep_the_shared_trainers_tables_beside_the_default():
    text = (ROOT / "docs" / "results.md").read_text()
    blocks = {m.group(3, 4) for m in doc_tables.BLOCK.finditer(text)}
    assert {("table1", s + p) for p in ("mnist5k", "fashion") for s in ("", "shared:")} <= blocks


def test_every_generated_table_and_value_of_the_docs_is_the_shipped_reference():
    text = (ROOT / "README.md").read_text()
    blocks = {m.group(3, 4) for m in doc_tables.BLOCK.finditer(text)}
    assert {("table1", "mnist5k"), ("table1", "fashion")} <= blocks
    assert all(doc_values.VALUE.search((ROOT / d).read_text()) for d in doc_tables.DOCUMENTS[1:])
    doc_tables.update(ROOT, check=True)  # raises naming the first block or value that differs


# Decimals the results pages may write by hand: none comes from a run (each run-derived number there
# is a generated value or block). A new hand-typed MAP, p-value or spread fails the test below.
NOT_FROM_RUNS = {
    "0.05": "alpha, and BRE's 5% of pairs", "0.001": "the claims' p threshold", "0.01": "a learning rate of a grid",
    "0.9": "momentum", "0.1": "the relevant fraction of a database", "5.2": "the paper's section", "3.10": "Python",
}
HAND_CHECKED = ("README.md", "docs/results.md", "docs/beyond-the-paper.md")


def hand_typed_decimals(text: str) -> list[str]:
    """The decimals of a page's prose that are not generated: code, generated blocks and values, link
    targets and the CHANGELOG's times left out."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    for generated in (doc_tables.BLOCK, doc_values.VALUE):
        text = generated.sub("", text)
    # code, link targets, and the measured times the CHANGELOG test below checks
    text = re.sub(r"`[^`]*`|\]\([^)]*\)|\*\*[\d.]+\s+minutes\*\*", "", text)
    return re.findall(r"(?<![\w.])\d*\.\d+", text)


@pytest.mark.parametrize("page", HAND_CHECKED)
def test_the_results_pages_write_no_run_derived_number_by_hand(page):
    typed = set(hand_typed_decimals((ROOT / page).read_text())) - set(NOT_FROM_RUNS)
    assert not typed, f"{page}: {sorted(typed)} typed by hand; write each as a generated value (doc_values)"


def test_a_hand_typed_map_is_caught():
    assert hand_typed_decimals("HashNet 0.9704<!--= mean mnist5k/HashNet/48 --> and CNNH 0.973 (`0.5`)") == ["0.973"]


def test_a_drifted_value_is_named(tmp_path):
    results = (ROOT / "docs" / "results.md").read_text()
    marker = "<!--= p mnist5k/HashNet/48 CNNH -->"
    assert marker in results
    value = re.search(r"(\d\.\d+)" + re.escape(marker), results).group(1)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "results.md").write_text(results.replace(value + marker, "0.99" + marker, 1))
    with pytest.raises(HashbenchError, match=r"generated value 'p mnist5k/HashNet/48 CNNH' reads 0\.99, the shipped "
                                             rf"reference runs give {re.escape(value)}"):
        doc_tables.update(tmp_path, check=True, documents=["docs/results.md"])
    doc_tables.update(tmp_path, documents=["docs/results.md"])
    assert (tmp_path / "docs" / "results.md").read_text() == results


def test_a_drifted_table_is_named(tmp_path):
    readme = (ROOT / "README.md").read_text()
    cell = re.search(r"0\.(\d)(\d{3}) ± ", readme.split("<!-- generated: table1 mnist5k -->")[1])
    drifted = f"0.{(int(cell.group(1)) + 1) % 10}{cell.group(2)} ± "  # one cell of the block, off by 0.1
    (tmp_path / "README.md").write_text(readme.replace(cell.group(0), drifted, 1))
    with pytest.raises(HashbenchError, match="README.md: the generated block 'table1 mnist5k' differs"):
        doc_tables.update(tmp_path, check=True, documents=["README.md"])
    doc_tables.update(tmp_path, documents=["README.md"])  # rewriting restores it
    assert (tmp_path / "README.md").read_text() == readme


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    for match in LINK.finditer(text):
        target = match.group(1) or match.group(2)
        if re.match(r"[a-z]+:", target):
            continue  # an absolute URL
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.relative_to(ROOT)}: link to {target} does not resolve"
        if anchor:
            assert anchor in anchors(resolved), f"{page.relative_to(ROOT)}: no heading #{anchor} in {path or page.name}"


def test_the_readme_is_a_front_page():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150


MACHINE = (re.compile(r"`(mnist5k|fashion)`[^.`]*?\(an (Intel Xeon|AMD EPYC)(?=[ ,][^)]*?(AVX-512|AVX2))"),  # `p` (an X, ISA)
           re.compile(r"`(mnist5k|fashion)` from an (Intel Xeon|AMD EPYC)(?=[^)]*?(AVX-512|AVX2))"))  # `p` from an X ... ISA


@pytest.mark.parametrize("page", ["README.md", "docs/results.md", "docs/metrics.md"])
def test_the_machine_a_page_names_for_a_reference_is_the_one_its_runs_record(page):
    """A reference regenerated on another machine must not leave the old machine's name in the docs."""
    text = " ".join((ROOT / page).read_text().split())
    named = [found for pattern in MACHINE for found in pattern.findall(text)]
    assert named, f"{page}: no reference machine named"
    for protocol, vendor, isa in named:
        machines = json.loads((ROOT / f"hashbench/reference/runs/{protocol}.json").read_text())["machines"].values()
        assert all(vendor.split()[0] in m["cpu"] and isa.replace("-", "") == m["isa"] for m in machines), \
            f"{page}: {protocol} named as {vendor} {isa}, its reference runs record {[m['cpu'] for m in machines]}"


def test_the_readme_states_the_times_the_changelog_measured():
    readme = (ROOT / "README.md").read_text()
    changelog = (ROOT / "CHANGELOG.md").read_text()
    for target in ("benchmark", "later"):
        measured = re.search(rf"`make {target}` \*\*([\d.]+) minutes\*\*", changelog).group(1)
        assert f"{measured} minutes" in readme, f"README: make {target} should read {measured} minutes (CHANGELOG)"


@pytest.mark.parametrize("page", ["README.md", "docs/performance.md", "docs/beyond-the-paper.md"])
def test_every_measured_time_a_page_states_is_one_the_changelog_recorded(page):
    """The wall times of whole runs are measured once and recorded in CHANGELOG.md: a page quotes them."""
    recorded = set(re.findall(r"\*\*([\d.]+) minutes\*\*", " ".join((ROOT / "CHANGELOG.md").read_text().split())))
    stated = re.findall(r"\*\*([\d.]+) minutes\*\*", " ".join((ROOT / page).read_text().split()))
    assert stated and set(stated) <= recorded, f"{page}: {sorted(set(stated) - recorded)} minutes not in CHANGELOG.md"


def test_the_paper_configs_method_count_is_the_one_the_docs_state():
    methods = yaml.safe_load((ROOT / "config/paper.yaml").read_text())["methods"]
    assert f"the {len(methods)} methods" in " ".join((ROOT / "docs/protocols.md").read_text().split())


def test_the_claims_table_of_the_results_page_is_generated_and_a_drifted_verdict_is_named(tmp_path):
    results = (ROOT / "docs" / "results.md").read_text()
    block = results.split("<!-- generated: claims mnist5k fashion -->")[1].split("<!-- end -->")[0]
    assert "| HashNet > DHN |" in block and "| DNNH > CNNH |" in block
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "results.md").write_text(results.replace("| HashNet > DHN | holds", "| HashNet > DHN | level", 1))
    with pytest.raises(HashbenchError, match="the generated block 'claims mnist5k fashion' differs"):
        doc_tables.update(tmp_path, check=True, documents=["docs/results.md"])


def test_the_imbalance_table_renders_the_studys_record(tmp_path):
    from hashbench.stages.imbalance import COLUMNS

    record = tmp_path / "imbalance.csv"
    record.write_text(",".join(COLUMNS) + "\n"
                      "multi,0.853,16,0.7,0.74,-0.039,0.148,0.0001,3\n"
                      "multi,0.853,64,0.9,0.902,-0.002,0.005,0.031,3\n"
                      "pairs,104.2,16,0.5,0.31,0.186,0.035,0.0001,3\n")
    assert doc_tables.render_imbalance(record).splitlines() == [
        "| protocol | pairs dissimilar:similar | 16 bits | 64 bits |", "|---|---|---|---|",
        "| multi | 0.853:1 | -0.039 ± 0.148 (p < 0.001) | -0.002 ± 0.005 (p = 0.031) |",
        "| pairs | 104:1 | +0.186 ± 0.035 (p < 0.001) |  |"]
