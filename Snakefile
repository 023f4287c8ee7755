"""hashbench: regenerate HashNet's (ICCV 2017) Table 1 and compare hashing methods on shared splits.

    snakemake --cores 8 results/table1.csv      Table 1, Table 2 and metrics.csv (results/)
    snakemake --cores 8 figures                 the paper's figures (figures/<protocol>/)
    snakemake --cores 8 imbalance --configfile config/imbalance.yaml    beyond the paper (docs/beyond-the-paper.md)
    snakemake --cores 8 all figures --configfile config/later.yaml      methods published after HashNet
    snakemake --cores 8 report && snakemake --report report.html report
"""

from pathlib import Path

from snakemake.utils import min_version

min_version("8.0")


# the default config sits beside this Snakefile, whatever --directory the workflow runs in
configfile: Path(workflow.basedir) / "config" / "config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/runs.smk"
include: "rules/tables.smk"
include: "rules/figures.smk"


report: "report/workflow.rst"


rule all:
    default_target: True
    input:
        f"{TABLES_DIR}/table1.csv",


rule report:
    """Tables and figures: everything ``snakemake --report report.html report`` embeds."""
    input:
        rules.tables.output,
        rules.figures.input,


onsuccess:
    # a run that learned nothing is marked in the tables (⚠) and named here, on the console
    from hashbench.stages.stored import degenerate_runs

    _degenerate = degenerate_runs(metrics_files(CFG["protocols"], CFG["seeds"]))
    if _degenerate:
        print(f"hashbench: {len(_degenerate)} degenerate run(s), their cells marked ⚠ in the tables:", file=sys.stderr)
        for _line in _degenerate:
            print(f"  {_line}", file=sys.stderr)
