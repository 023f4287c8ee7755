"""One function per workflow rule, explicit files in and out; ``hashbench.cli`` is a thin shell over
them: ``features`` (rules features, cnn_features, image_cache), ``train`` (train, train_gpu),
``select``, ``evaluate``, ``tables`` and ``figures``. Preparing a split is
``hashbench.data.splits.prepare``."""
