"""hashbench: regenerate HashNet's (ICCV 2017) Table 1 and compare hashing methods on shared splits.

    snakemake --cores 8 results/table1.csv
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


rule all:
    default_target: True
    input:
        "results/table1.csv",
