rule train:
    """Fit one (protocol, method, bits, seed) run; store its codes, timings and loss history."""
    input:
        **rules.prepare_split.output,
        features=rules.features.output[0],
    output:
        codes=f"{RUN_DIR}/codes.npz",
        run=f"{RUN_DIR}/run.json",
    params:
        spec=run_json,
        data=subpath(input.meta, parent=True),
        out=subpath(output.run, parent=True),
    threads: train_threads
    resources:
        gpu=gpus,
    log:
        "logs/train/{protocol}/{method}/{bits}bits/seed{seed}.log",
    conda:
        ENV
    shell:
        "python -m hashbench train --spec {params.spec:q} --data {params.data} --out {params.out} "
        "--threads {threads} > {log} 2>&1"


rule evaluate:
    """Every metric of one stored run (MAP@R, tie-aware MAP, P@H<=2, P@N, PR by radius)."""
    input:
        **rules.prepare_split.output,
        run=rules.train.output.run,
        codes=rules.train.output.codes,
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
