rule select:
    """Choose a method's hyperparameters from its selection.grid on a validation hold-out of the
    training split, once per protocol; every run of the method there trains with the choice."""
    input:
        **rules.prepare_split.output,
        features=train_features,
        images=train_images,
    output:
        SELECTION,
    params:
        spec=selection_json,
        data=subpath(input.meta, parent=True),
    threads: 2
    resources:
        gpu=lambda wildcards: int(is_deep(wildcards.method)),
    log:
        "logs/select/{protocol}/{method}.log",
    conda:
        ENV
    shell:
        "python -m hashbench select --spec {params.spec:q} --data {params.data} --out {output} "
        "--threads {threads} > {log} 2>&1"


rule train:
    """Fit one (protocol, method, bits, seed) run of a shallow method; store its codes, timings and
    loss history."""
    input:
        **rules.prepare_split.output,
        features=train_features,
        images=train_images,
        selection=selection_input,
    output:
        codes=f"{run_dir(deep=False)}/codes.npz",
        run=f"{run_dir(deep=False)}/run.json",
    params:
        spec=run_json,
        data=subpath(input.meta, parent=True),
        out=subpath(output.run, parent=True),
        selection=selection_arg,
    threads: 1
    log:
        "logs/train/{protocol}/{method}/{bits}bits/seed{seed}.log",
    conda:
        ENV
    shell:
        "python -m hashbench train --spec {params.spec:q} --data {params.data} --out {params.out} "
        "--threads {threads} {params.selection} > {log} 2>&1"


use rule train as train_gpu with:
    output:
        codes=f"{run_dir(deep=True)}/codes.npz",
        run=f"{run_dir(deep=True)}/run.json",
    threads: 2  # one deep job keeps a 2-core machine busy; a cluster profile sets more
    resources:
        gpu=1,


rule evaluate:
    """Every metric of one stored run (MAP@R, tie-aware MAP, P@H<=2, P@N, PR by radius)."""
    input:
        **rules.prepare_split.output,
        run=f"{RUN_DIR}/run.json",
        codes=f"{RUN_DIR}/codes.npz",
    output:
        f"{RUN_DIR}/metrics.json",
    params:
        spec=eval_json,
        data=subpath(input.meta, parent=True),
        run=subpath(input.run, parent=True),
    log:
        "logs/evaluate/{protocol}/{method}/{bits}bits/seed{seed}.log",
    conda:
        ENV
    shell:
        "python -m hashbench evaluate --run {params.run} --data {params.data} --spec {params.spec:q} "
        "--out {output} > {log} 2>&1"
