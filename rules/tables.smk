rule tables:
    """Tables 1 and 2 (MAP mean/std over seeds, the paper's value beside ours) and every run's metrics."""
    input:
        metrics_files(CFG["protocols"], CFG["seeds"]),
    output:
        table1=report(f"{TABLES_DIR}/table1.csv", caption="../report/table1.rst", category="Tables"),
        table1_md=f"{TABLES_DIR}/table1.md",
        table2=report(f"{TABLES_DIR}/table2.csv", caption="../report/table2.rst", category="Tables"),
        table2_md=f"{TABLES_DIR}/table2.md",
        metrics=report(f"{TABLES_DIR}/{layout.METRICS_TABLE}", caption="../report/metrics.rst", category="Tables"),
    params:
        spec=json.dumps(hbconfig.tables_spec(CFG), sort_keys=True),
        out=subpath(output.table1, parent=True),
    log:
        layout.LOGS["tables"],
    benchmark:
        layout.benchmark_file("tables")
    conda:
        ENV
    shell:
        "python -m hashbench tables --spec {params.spec:q} --metrics {input} --out {params.out} > {log} 2>&1"
