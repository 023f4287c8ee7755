rule tables:
    """Tables 1 and 2 (MAP mean/std over seeds, the paper's value beside ours) and every run's metrics."""
    input:
        metrics_files(CFG["protocols"], CFG["seeds"]),
    output:
        table1=report("results/table1.csv", caption="../report/table1.rst", category="Tables"),
        table1_md="results/table1.md",
        table2=report("results/table2.csv", caption="../report/table2.rst", category="Tables"),
        table2_md="results/table2.md",
        metrics=report("results/metrics.csv", caption="../report/metrics.rst", category="Tables"),
    params:
        spec=json.dumps(hbconfig.tables_spec(CFG), sort_keys=True),
        out=subpath(output.table1, parent=True),
    log:
        "logs/tables.log",
    conda:
        ENV
    shell:
        "python -m hashbench tables --spec {params.spec:q} --runs results/runs --out {params.out} > {log} 2>&1"
