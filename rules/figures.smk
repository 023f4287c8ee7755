rule protocol_figures:
    """One protocol's figures (HashNet Figs. 2-8) as PNG and PDF, with their data as CSV."""
    input:
        **rules.prepare_split.output,
        runs=figure_inputs,
    output:
        **{
            name: report(
                f"figures/{{protocol}}/{name}.png",
                caption=f"../report/{name}.rst",
                category="Figures",
                subcategory="{protocol}",
            )
            for name in figure_names()
        },
        pdf=expand("figures/{{protocol}}/{name}.pdf", name=figure_names()),
        data=expand("figures/{{protocol}}/{name}.csv", name=figure_names()),
    params:
        spec=lambda wildcards: json.dumps(hbconfig.figures_spec(CFG, wildcards.protocol), sort_keys=True),
        at_bits=lambda wildcards: hbconfig.figures_spec(CFG, wildcards.protocol)["at_bits"],
        seed=lambda wildcards: hbconfig.figures_spec(CFG, wildcards.protocol)["seed"],
        deep_methods=lambda wildcards: ", ".join(hbconfig.figures_spec(CFG, wildcards.protocol)["deep_methods"]),
        data=subpath(input.meta, parent=True),
        out=subpath(output.precision, parent=True),
    log:
        "logs/figures/{protocol}.log",
    conda:
        ENV
    shell:
        "python -m hashbench figures --spec {params.spec:q} --runs results/runs --data {params.data} "
        "--out {params.out} > {log} 2>&1"


rule figures:
    """Every protocol's figures."""
    input:
        expand("figures/{protocol}/{name}.png", protocol=CFG["protocols"], name=figure_names()),
