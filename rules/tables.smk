rule table1:
    """Table 1: MAP of every configured method, protocol and code length (mean/std over seeds)."""
    input:
        all_metrics(),
    output:
        "results/table1.csv",
    log:
        "logs/table1.log",
    conda:
        ENV
    shell:
        "python -m hashbench table --out {output} {input} > {log} 2>&1"
