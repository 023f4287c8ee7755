rule prepare_split:
    """Build a protocol's dataset and its shared query/database/train split (seeded, checksummed);
    image-list protocols validate every listed image here, before any training."""
    input:
        source_files,
    output:
        dataset="data/{protocol}/dataset.npz",
        split="data/{protocol}/split.npz",
        meta="data/{protocol}/split.json",
    params:
        spec=protocol_json,
        out=subpath(output.meta, parent=True),
    log:
        "logs/prepare/{protocol}.log",
    conda:
        ENV
    shell:
        "python -m hashbench prepare --protocol {wildcards.protocol} --spec {params.spec:q} "
        "--out {params.out} > {log} 2>&1"


rule image_cache:
    """Every image file of a protocol decoded and resized once (uint8 .npy), read by all deep runs."""
    input:
        **rules.prepare_split.output,
    output:
        f"data/{{protocol}}/{splits.IMAGE_CACHE}",
    params:
        spec=protocol_json,
        data=subpath(input.meta, parent=True),
    threads: 4
    log:
        "logs/image_cache/{protocol}-{resize}.log",
    conda:
        ENV
    shell:
        "python -m hashbench cache-images --data {params.data} --spec {params.spec:q} --threads {threads} "
        "> {log} 2>&1"


rule features:
    """Features the shallow methods read: pixels, scaled and zero-centred by the training mean."""
    input:
        **rules.prepare_split.output,
    output:
        "data/{protocol}/features-pixels.npy",
    params:
        spec=protocol_json,
        data=subpath(input.meta, parent=True),
    log:
        "logs/features/{protocol}-pixels.log",
    conda:
        ENV
    shell:
        "python -m hashbench features --data {params.data} --spec {params.spec:q} --threads {threads} > {log} 2>&1"


use rule features as cnn_features with:
    input:
        **rules.prepare_split.output,
        cache=image_cache,
    output:
        "data/{protocol}/features-alexnet-fc7.npy",
    threads: 4
    resources:
        gpu=1,
    log:
        "logs/features/{protocol}-alexnet-fc7.log",
