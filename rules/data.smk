rule prepare_split:
    """Build a protocol's dataset and its shared query/database/train split (seeded, checksummed);
    image-list protocols validate every listed image here, before any training."""
    input:
        source_files,
    output:
        **SPLIT_FILES,
    params:
        spec=split_json,
        out=subpath(output.meta, parent=True),
    log:
        layout.LOGS["prepare"],
    benchmark:
        layout.benchmark_file("prepare")
    conda:
        ENV
    shell:
        f"{HASHBENCH} " "prepare --protocol {wildcards.protocol} --spec {params.spec:q} "
        "--out {params.out} > {log} 2>&1"


rule export_split:
    """A prepared protocol's train, query and database items for code outside hashbench (ids, label
    vectors, images): train your method there, then name its codes under config external."""
    input:
        **SPLIT_FILES,
    output:
        **{name: f"{layout.EXPORT_DIR}/{name}.txt" for name in ("train", "query", "database")},
        arrays=f"{layout.EXPORT_DIR}/{layout.EXPORT_ARRAYS}",
        meta=f"{layout.EXPORT_DIR}/{layout.EXPORT_META}",
    params:
        data=subpath(input.meta, parent=True),
        out=subpath(output.meta, parent=True),
    log:
        layout.LOGS["export"],
    conda:
        ENV
    shell:
        f"{HASHBENCH} " "export-split --data {params.data} --out {params.out} > {log} 2>&1"


rule export:
    """Every configured protocol's split, exported (results/export/<protocol>/)."""
    input:
        [f"{layout.EXPORT_DIR}/{layout.EXPORT_META}".format(protocol=p) for p in CFG["protocols"]],


rule image_cache:
    """Every image file of a protocol decoded and resized once (uint8 .npy), read by all deep runs."""
    input:
        **SPLIT_FILES,
    output:
        f"{DATA_DIR}/{layout.IMAGE_CACHE}",
    params:
        spec=cache_json,
        data=subpath(input.meta, parent=True),
    threads: 4
    resources:
        **EXECUTION,
    log:
        layout.LOGS["image_cache"],
    benchmark:
        layout.benchmark_file("image_cache")
    conda:
        ENV
    shell:
        f"{HASHBENCH} cache-images --data {{params.data}} --spec {{params.spec:q}} --out {{output}} "
        f"--threads {{threads}} {LOADER_ARGS} > {{log}} 2>&1"


rule pretrained_weights:
    """A backbone's ImageNet weights from torchvision's cache (or a download, once) into a file under
    data/weights/: an input of every job that reads them, which never fetches anything itself."""
    output:
        layout.WEIGHTS,
    log:
        layout.LOGS["weights"],
    benchmark:
        layout.benchmark_file("weights")
    conda:
        ENV
    shell:
        f"{HASHBENCH} " "weights --backbone {wildcards.backbone} --out {output} > {log} 2>&1"


rule features:
    """Features the shallow methods read: pixels, scaled and zero-centred by the training mean."""
    input:
        **SPLIT_FILES,
    output:
        features=f"{DATA_DIR}/{layout.features_file('pixels')}",
        meta=f"{DATA_DIR}/{layout.features_meta_file('pixels')}",
    params:
        spec=features_json,
        data=subpath(input.meta, parent=True),
        weights="",
    resources:
        **EXECUTION,
    log:
        layout.LOGS["features"].replace("{kind}", "pixels"),
    benchmark:
        layout.benchmark_file("features").replace("{kind}", "pixels"),
    conda:
        ENV
    shell:
        f"{HASHBENCH} features --data {{params.data}} --spec {{params.spec:q}} --out {{output.features}} "
        f"--threads {{threads}} {LOADER_ARGS} {{params.weights}} > {{log}} 2>&1"


use rule features as cnn_features with:
    input:
        **SPLIT_FILES,
        cache=image_cache,
        weights=feature_weights,
    output:
        features=f"{DATA_DIR}/{layout.features_file('alexnet-fc7')}",
        meta=f"{DATA_DIR}/{layout.features_meta_file('alexnet-fc7')}",
    params:
        spec=features_json,
        data=subpath(input.meta, parent=True),
        weights=weights_arg,
    threads: 4
    resources:
        gpu=deep_gpu,
        **EXECUTION,
    log:
        layout.LOGS["features"].replace("{kind}", "alexnet-fc7"),
    benchmark:
        layout.benchmark_file("features").replace("{kind}", "alexnet-fc7"),
