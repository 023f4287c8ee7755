rule select:
    """Choose a method's hyperparameters from its selection.grid on a validation hold-out of the
    training split, once per protocol; every run of the method there trains with the choice."""
    input:
        **SPLIT_FILES,
        features=train_features,
        images=train_images,
        weights=run_weights,
    output:
        of_kind(layout.SELECTION, deep=False),
    params:
        spec=selection_json,
        data=subpath(input.meta, parent=True),
        weights=weights_arg,
    threads: 1
    resources:
        **EXECUTION,
    log:
        layout.LOGS["select"],
    benchmark:
        layout.benchmark_file("select")
    conda:
        ENV
    shell:
        f"{HASHBENCH} select --spec {{params.spec:q}} --data {{params.data}} --out {{output}} "
        f"--threads {{threads}} {TRAINER_ARGS} {{params.weights}} > {{log}} 2>&1"


use rule select as select_gpu with:
    output:
        of_kind(layout.SELECTION, deep=True),
    threads: 1  # as train_gpu: a deep method's choice on a CPU depends on torch's threads
    resources:
        gpu=deep_gpu,
        **EXECUTION,


rule train:
    """Fit one (protocol, method, bits, seed) run of a shallow method; store its codes, timings and
    loss history."""
    input:
        **SPLIT_FILES,
        features=train_features,
        images=train_images,
        selection=selection_input,
        weights=run_weights,
    output:
        codes=f"{run_dir(deep=False)}/{layout.CODES}",
        run=f"{run_dir(deep=False)}/{layout.RUN_RECORD}",
    params:
        spec=run_json,
        data=subpath(input.meta, parent=True),
        out=subpath(output.run, parent=True),
        selection=selection_arg,
        weights=weights_arg,
    threads: 1
    resources:
        **EXECUTION,
    log:
        layout.LOGS["train"],
    benchmark:
        layout.benchmark_file("train")
    conda:
        ENV
    shell:
        f"{HASHBENCH} train --spec {{params.spec:q}} --data {{params.data}} --out {{params.out}} "
        f"--threads {{threads}} {{params.selection}} {TRAINER_ARGS} {{params.weights}} > {{log}} 2>&1"


use rule train as train_gpu with:
    output:
        codes=f"{run_dir(deep=True)}/{layout.CODES}",
        run=f"{run_dir(deep=True)}/{layout.RUN_RECORD}",
        continuous=f"{run_dir(deep=True)}/{layout.CONTINUOUS}",
    threads: 1  # on a CPU the codes depend on torch's threads: one, whatever --cores; profiles/gpu sets more
    resources:
        gpu=deep_gpu,
        **EXECUTION,


rule external_codes:
    """Store the codes of a method trained outside hashbench (config external) as a run, checked
    against the split: shape, values, and the item ids when the file keys its rows by them."""
    input:
        **SPLIT_FILES,
        codes=external_codes,
    output:
        codes=f"{EXTERNAL_RUN_DIR}/{layout.CODES}",
        run=f"{EXTERNAL_RUN_DIR}/{layout.RUN_RECORD}",
    params:
        data=subpath(input.meta, parent=True),
        out=subpath(output.run, parent=True),
    log:
        layout.LOGS["external"],
    conda:
        ENV
    shell:
        f"{HASHBENCH} " "import-codes --codes {input.codes:q} --data {params.data} --out {params.out} "
        "--method {wildcards.method} --bits {wildcards.bits} --seed {wildcards.seed} > {log} 2>&1"


rule evaluate:
    """Every metric of one stored run (MAP@R, tie-aware MAP, P@H<=2, P@N, PR by radius)."""
    input:
        **SPLIT_FILES,
        run=f"{RUN_DIR}/{layout.RUN_RECORD}",
        codes=f"{RUN_DIR}/{layout.CODES}",
    output:
        metrics=f"{RUN_DIR}/{layout.METRICS}",
        per_query=f"{RUN_DIR}/{layout.PER_QUERY}",
    params:
        spec=eval_json,
        data=subpath(input.meta, parent=True),
        run=subpath(input.run, parent=True),
    threads: 1
    log:
        layout.LOGS["evaluate"],
    benchmark:
        layout.benchmark_file("evaluate")
    conda:
        ENV
    shell:
        f"{HASHBENCH} " "evaluate --run {params.run} --data {params.data} --spec {params.spec:q} "
        "--out {output.metrics} --per-query {output.per_query} --threads {threads} > {log} 2>&1"
