rule protocol_figures:
    """One protocol's figures (HashNet Figs. 2-8) as PNG and PDF, with their data as CSV."""
    input:
        **SPLIT_FILES,
        metrics=figure_metrics,
        runs=figure_runs,
    output:
        **{
            name: report(
                f"{FIGURE_DIR}/{name}.png",
                caption=f"../report/{name}.rst",
                category="Figures",
                subcategory="{protocol}",
            )
            for name in figure_names()
        },
        pdf=[f"{FIGURE_DIR}/{name}.pdf" for name in figure_names()],
        data=[f"{FIGURE_DIR}/{name}.csv" for name in figure_names()],
    params:
        spec=lambda wildcards: json.dumps(hbconfig.figures_spec(CFG, wildcards.protocol), sort_keys=True),
        at_bits=lambda wildcards: hbconfig.figures_spec(CFG, wildcards.protocol)["at_bits"],
        seed=lambda wildcards: hbconfig.figures_spec(CFG, wildcards.protocol)["seed"],
        deep_methods=lambda wildcards: ", ".join(hbconfig.figures_spec(CFG, wildcards.protocol)["deep_methods"]),
        data=subpath(input.meta, parent=True),
        out=subpath(output.precision, parent=True),
        runs=run_folders,
    log:
        layout.LOGS["figures"],
    benchmark:
        layout.benchmark_file("figures")
    conda:
        ENV
    shell:
        f"{HASHBENCH} " "figures --spec {params.spec:q} --metrics {input.metrics} --runs {params.runs} "
        "--data {params.data} --out {params.out} > {log} 2>&1"


rule figures:
    """Every protocol's figures."""
    input:
        [
            f"{FIGURE_DIR}/{name}.png".format(protocol=protocol)
            for protocol in CFG["protocols"]
            for name in figure_names()
        ],


rule imbalance:
    """HashNet's advantage over HashNet-W at each code length against the dissimilar:similar ratio of
    every configured protocol's training pairs (config/imbalance.yaml)."""
    input:
        metrics=imbalance_metrics,
        data=[path.format(protocol=p) for p in CFG["protocols"] for path in SPLIT_FILES.values()],
    output:
        figure=report(f"{layout.IMBALANCE_FIGURE}.png", caption="../report/imbalance.rst", category="Figures"),
        pdf=f"{layout.IMBALANCE_FIGURE}.pdf",
        data=f"{layout.IMBALANCE_FIGURE}.csv",
    params:
        spec=json.dumps(hbconfig.imbalance_spec(CFG), sort_keys=True),
        data=[layout.DATA_DIR.format(protocol=p) for p in CFG["protocols"]],
        out=subpath(output.figure, parent=True),
    log:
        layout.LOGS["imbalance"],
    benchmark:
        layout.benchmark_file("imbalance")
    conda:
        ENV
    shell:
        f"{HASHBENCH} " "imbalance --spec {params.spec:q} --metrics {input.metrics} --data {params.data} "
        "--out {params.out} > {log} 2>&1"


rule page:
    """One self-contained results page: every table with its marks and spread, the figures, the cost
    of each method, the reproduction summary and a link to each run's record (hashbench/stages/page.py)."""
    input:
        tables=rules.tables.output,
        figures=rules.figures.input,
    output:
        f"{TABLES_DIR}/{layout.PAGE}",
    params:
        tables=subpath(output[0], parent=True),
    log:
        layout.LOGS["page"],
    conda:
        ENV
    shell:
        f"{HASHBENCH} " "page --tables {params.tables} --figures {input.figures} --out {output} > {log} 2>&1"
