rule tables:
    """Tables 1 and 2 (MAP mean/std over seeds, the paper's value beside ours), Table 1's methods under
    P@H<=2 and P@N, every run's metrics,
    the paper's claims tested on the runs (hashbench/stages/claims.py), the reproduction report against the shipped reference run (hashbench/stages/reproduction.py)
    and the values reported elsewhere beside ours (hashbench/stages/published.py)."""
    input:
        metrics=metrics_files(CFG["protocols"], CFG["seeds"]),
        reference=shipped_references(),
    output:
        table1=report(f"{TABLES_DIR}/table1.csv", caption="../report/table1.rst", category="Tables"),
        table1_md=f"{TABLES_DIR}/table1.md",
        table2=report(f"{TABLES_DIR}/table2.csv", caption="../report/table2.rst", category="Tables"),
        table2_md=f"{TABLES_DIR}/table2.md",
        ph2=report(f"{TABLES_DIR}/table1-ph2.csv", caption="../report/table1-ph2.rst", category="Tables"),
        ph2_md=f"{TABLES_DIR}/table1-ph2.md",
        pn=report(f"{TABLES_DIR}/table1-pn.csv", caption="../report/table1-pn.rst", category="Tables"),
        pn_md=f"{TABLES_DIR}/table1-pn.md",
        metrics=report(f"{TABLES_DIR}/{layout.METRICS_TABLE}", caption="../report/metrics.rst", category="Tables"),
        reproduction=report(f"{TABLES_DIR}/reproduction.csv", caption="../report/reproduction.rst", category="Tables"),
        reproduction_md=f"{TABLES_DIR}/reproduction.md",
        claims=report(f"{TABLES_DIR}/{layout.CLAIMS}.csv", caption="../report/claims.rst", category="Tables"),
        claims_md=f"{TABLES_DIR}/{layout.CLAIMS}.md",
        published=report(f"{TABLES_DIR}/{layout.PUBLISHED}.csv", caption="../report/published.rst", category="Tables"),
        published_md=f"{TABLES_DIR}/{layout.PUBLISHED}.md",
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
        f"{HASHBENCH} " "tables --spec {params.spec:q} --metrics {input.metrics} --out {params.out} > {log} 2>&1"


rule reference:
    """The configured runs as a reference run (<protocol>.json, .npz): copied into
    hashbench/reference/runs/, they become what every reproduction report compares with."""
    input:
        metrics_files(CFG["protocols"], CFG["seeds"]),
    output:
        [str(path) for p in CFG["protocols"] for path in reference_files(p, f"{TABLES_DIR}/reference")],
    params:
        spec=json.dumps(hbconfig.tables_spec(CFG), sort_keys=True),
        out=subpath(output[0], parent=True),
    log:
        layout.LOGS["reference"],
    conda:
        ENV
    shell:
        f"{HASHBENCH} " "reference --spec {params.spec:q} --metrics {input} --out {params.out} > {log} 2>&1"


rule tuning_record:
    """The selection.json of every configured (protocol, method) with a grid, gathered into one tuning
    record (hashbench/stages/tuning.py): make tune copies it to hashbench/reference/tuning.json."""
    input:
        [layout.SELECTION.format(protocol=p, method=m) for p in CFG["protocols"] for m in CFG["methods"]
         if hbconfig.selection_spec(CFG, p, m) is not None],
    output:
        f"{TABLES_DIR}/tuning.json",
    params:
        recipe=CFG["training"].get("recipe", "released"),
    log:
        layout.LOGS["tuning"],
    conda:
        ENV
    shell:
        f"{HASHBENCH} " "tuning-record {input} --recipe {params.recipe} --out {output} > {log} 2>&1"
