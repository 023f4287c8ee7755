"""Image-list protocols: the released list format, validation with line numbers, splits, the image pipeline."""

import json
from pathlib import Path

import numpy as np
import pytest

from hashbench import config
from hashbench.data import imagelists, splits
from hashbench.errors import HashbenchError
from image_fixtures import PREFIX, line, released_lists, write_cifar10, write_images, write_list


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    return root, released_lists(root)


def spec_for(root, lists, **extra):
    return {"source": "image-lists", "lists": lists, "path_prefix": PREFIX, "image_root": str(root / "images"),
            "features": "alexnet-fc7", "labels": "single", "topk": 20, "seed": 3, **extra}


def test_reads_the_released_format_and_rewrites_the_authors_paths(toy):
    root, lists = toy
    found = imagelists.read(lists["query"], image_root=root / "images", path_prefix=PREFIX)
    assert len(found.paths) == 6 and found.labels.shape == (6, 3)
    assert found.paths[0] == str(root / "images" / "class0" / "img000.png")
    assert found.labels.sum(axis=1).tolist() == [1] * 6


def test_relative_paths_are_joined_to_the_list_files_folder(tmp_path):
    write_images(tmp_path, n_classes=1, per_class=2)
    lst = write_list(tmp_path / "all.txt", [("class0/img000.png", 0), ("class0/img001.jpg", 0)], 1, prefix=".")
    lst.write_text(lst.read_text().replace("./", ""))
    assert imagelists.read(lst).paths == [str(tmp_path / "class0/img000.png"), str(tmp_path / "class0/img001.jpg")]


def bad_list(tmp_path, lines):
    write_images(tmp_path / "images", n_classes=2, per_class=3)
    path = tmp_path / "bad.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("lines, expected", [
    ([line("class0/img000.png", 0, 2), line("class0/nothere.png", 0, 2)], "line 2: image not found: "),
    ([line("class0/img000.png", 0, 2), "class0/img001.jpg 1 0 0"], "line 2: 3 labels, expected 2 (as on line 1)"),
    ([line("class0/img000.png", 0, 2), line("class1/img000.png", 1, 2), line("class0/img000.png", 0, 2)],
     "line 3: duplicate path class0/img000.png (first on line 1)"),
    ([line("class0/img000.png", 0, 2), "class1/img000.png 0 2"], "line 2: label values must be 0 or 1, got '2'"),
    (["class0/img000.png"], "line 1: expected '<image path> <0/1 label vector>'"),
])
def test_each_bad_list_gets_a_clear_error_with_its_line_number(tmp_path, lines, expected):
    path = bad_list(tmp_path, lines)
    with pytest.raises(HashbenchError) as err:
        imagelists.read(path, image_root=tmp_path / "images")
    assert str(err.value).startswith(f"{path}: 1 bad line(s): ") and expected in str(err.value)
    assert "\n" not in str(err.value)


def test_an_empty_list_file_is_an_error(tmp_path):
    path = bad_list(tmp_path, ["", "   "])
    with pytest.raises(HashbenchError, match=r"bad.txt: empty list file; expected one line per image"):
        imagelists.read(path)


def test_every_bad_line_is_reported_at_once_including_undecodable_images(tmp_path):
    lines = [line("class0/img000.png", 0, 2), line("class0/missing.png", 0, 2), line("class1/img001.jpg", 1, 2),
             "class1/img000.png 1", line("class0/img000.png", 0, 2)]
    path = bad_list(tmp_path, lines)
    (tmp_path / "images" / "class1" / "img001.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(HashbenchError) as err:
        imagelists.read(path, image_root=tmp_path / "images")
    text = str(err.value)
    assert "4 bad line(s)" in text
    for expected in ("line 2: image not found", "line 3: cannot decode image", "line 4: 1 labels, expected 2",
                     "line 5: duplicate path"):
        assert expected in text
    assert text.index("line 2") < text.index("line 3") < text.index("line 4") < text.index("line 5")


def test_released_lists_become_one_split_in_seeded_random_order(toy, tmp_path):
    root, lists = toy
    splits.prepare("toy", spec_for(root, lists), tmp_path)
    data = splits.load(tmp_path)
    sizes = {k: v.size for k, v in data.split.items()}
    assert sizes == {"query": 6, "database": 30, "train": 15}
    assert len(data.labels) == 36  # training images are database items, not copies
    assert np.isin(data.split["train"], data.split["database"]).all()
    assert not np.isin(data.split["query"], data.split["database"]).any()
    classes = data.labels[data.split["database"]].argmax(1)
    assert (np.diff(classes) != 0).sum() > 3  # not grouped by class
    again = tmp_path / "again"
    splits.prepare("toy", spec_for(root, lists), again)
    assert splits.load(again).checksum == data.checksum


def test_queries_in_the_database_are_refused_dropped_or_allowed_by_policy(toy, tmp_path):
    """The released COCO lists hold every query in the database (thuml/HashNet#41): refused by default."""
    root, lists = toy
    leaky = tmp_path / "database.txt"
    leaky.write_text(open(lists["database"]).read() + "".join(open(lists["query"]).readlines()[:2]))
    spec = spec_for(root, {**lists, "database": str(leaky)})
    with pytest.raises(HashbenchError, match=r"protocol_defs.toy.lists: 2 image\(s\) are both query and database "
                                             r".*set protocol_defs.toy.query_overlap to 'drop' .* or 'allow'"):
        splits.prepare("toy", spec, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    splits.prepare("toy", {**spec, "query_overlap": "drop"}, tmp_path / "drop")
    dropped = splits.load(tmp_path / "drop").split
    assert dropped["database"].size == 30 and not np.isin(dropped["query"], dropped["database"]).any()
    splits.prepare("toy", {**spec, "query_overlap": "allow"}, tmp_path / "allow")
    allowed = splits.load(tmp_path / "allow").split
    assert allowed["database"].size == 32 and np.isin(allowed["query"], allowed["database"]).sum() == 2
    with pytest.raises(HashbenchError, match=r"query_overlap': only sources whose files fix the split \(image-lists\)"):
        config.validate({"protocols": ["d"], "methods": ["ITQ"], "bits": [8], "seeds": [0], "protocol_defs": {"d": {
            "source": "sklearn-digits", "features": "pixels", "labels": "single", "topk": 5, "seed": 0,
            "query_overlap": "allow", "split": {"query": {"per_class": 1}, "train": {"per_class": 2}}}}})


def test_label_widths_must_agree_across_the_lists_and_sizes_are_checked(toy, tmp_path):
    root, lists = toy
    wide = tmp_path / "train.txt"
    wide.write_text("".join(l.rstrip("\n") + " 0\n" for l in open(lists["train"])))
    with pytest.raises(HashbenchError, match=r"label vectors differ in width between the files \(query 3, "
                                             r"database 3, train 4\)"):
        splits.prepare("toy", spec_for(root, {**lists, "train": str(wide)}), tmp_path / "out")
    with pytest.raises(HashbenchError, match=r"query.txt: 6 images, expected 5000 \(protocol_defs.toy.sizes.query\)"):
        splits.prepare("toy", spec_for(root, lists, sizes={"query": 5000}), tmp_path / "out")


def test_an_image_folder_with_one_label_file_gets_a_drawn_split(toy, tmp_path):
    root, lists = toy
    spec = {**spec_for(root, lists), "source": "image-folder", "label_file": lists["database"],
            "split": {"query": {"per_class": 2}, "train": {"total": 9}}}
    del spec["lists"]
    config.validate({"protocols": ["f"], "methods": ["ITQ"], "bits": [8], "seeds": [0], "protocol_defs": {"f": spec}})
    splits.prepare("folder", spec, tmp_path)
    sizes = {k: v.size for k, v in splits.load(tmp_path).split.items()}
    assert sizes == {"query": 6, "database": 24, "train": 9}


@pytest.mark.parametrize("change, message", [
    ({"lists": None}, "source 'image-lists' needs 'lists'"),
    ({"split": {"query": {"total": 1}, "train": {"total": 1}}}, "the files of source 'image-lists' fix the split"),
    ({"features": "pixels"}, "'pixels' needs in-memory images of one size"),
    ({"pipeline": {"resize": 32, "crop": 64}}, "pipeline.crop': 64 exceeds resize 32"),
    ({"pipeline": {"resize": 128}}, "pipeline.crop': 224 exceeds resize 128"),  # the default crop
    ({"method_params": {"HashNet": {"nope": 1}}}, "protocol_defs.p.method_params.HashNet: method 'HashNet' has no "
                                                  "hyperparameter 'nope'"),
])
def test_config_checks_what_each_source_needs(change, message):
    spec = {**spec_for(Path("/x"), {"query": "q", "database": "d", "train": "t"}), **change}
    spec = {k: v for k, v in spec.items() if v is not None}
    with pytest.raises(HashbenchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config.validate({"protocols": ["p"], "methods": ["ITQ"], "bits": [8], "seeds": [0], "protocol_defs": {"p": spec}})


def test_protocol_method_params_override_the_global_ones():
    cfg = config.validate({"protocols": ["p"], "methods": ["ITQ"], "bits": [8], "seeds": [0],
                           "method_params": {"ITQ": {"n_iter": 5}},
                           "protocol_defs": {"p": {**spec_for(Path("/x"), {
                               "query": "q", "database": "d", "train": "t"}), "method_params": {"ITQ": {"n_iter": 9}}}}})
    spec = config.run_spec(cfg, "p", "ITQ", 8, 0)
    assert spec["params"] == {"n_iter": 9} and "method_params" not in spec["protocol_def"]


def test_cifar10_protocol_leaves_training_images_out_of_the_database(tmp_path):
    write_cifar10(tmp_path / "cifar", per_batch=20)  # small files in torchvision's format
    spec = {"source": "cifar10", "root": str(tmp_path / "cifar"), "features": "pixels", "labels": "single",
            "topk": 50, "seed": 0,
            "split": {"query": {"per_class": 2}, "train": {"per_class": 3}, "train_in_database": False}}
    splits.prepare("cifar10", spec, tmp_path / "out")
    data = splits.load(tmp_path / "out")
    assert len(data.labels) == 120 and {k: v.size for k, v in data.split.items()} == {
        "query": 20, "database": 70, "train": 30}
    assert not np.isin(data.split["train"], data.split["database"]).any()
    assert data.deep_input({}).channels == 3 and data.deep_input({}).size == (32, 32)


def test_cifar10_without_data_or_network_is_a_clear_error(tmp_path, monkeypatch):
    from torchvision.datasets import CIFAR10

    def offline(self):
        raise OSError("no network")

    monkeypatch.setattr(CIFAR10, "download", offline)
    spec = {"source": "cifar10", "root": str(tmp_path), "features": "pixels", "labels": "single", "topk": 5,
            "seed": 0, "split": {"query": {"per_class": 1}, "train": {"per_class": 1}}}
    with pytest.raises(HashbenchError, match=r"protocol_defs.c.root: CIFAR-10 is not in .* and could not be downloaded"):
        splits.prepare("c", spec, tmp_path / "out")


@pytest.mark.parametrize("source", ["image-lists", "image-folder"])
def test_an_image_root_that_is_not_a_folder_is_named_before_any_image_is_read(toy, tmp_path, source):
    root, lists = toy
    spec = spec_for(root, lists, image_root=str(tmp_path / "no-such-folder"))
    if source == "image-folder":
        spec = {k: v for k, v in spec.items() if k != "lists"} | {
            "source": "image-folder", "label_file": lists["database"],
            "split": {"query": {"per_class": 1}, "train": {"per_class": 2}}}
    with pytest.raises(HashbenchError) as err:
        splits.prepare("toy", spec, tmp_path / "out")
    assert str(err.value) == (f"protocol_defs.toy.image_root: {tmp_path / 'no-such-folder'} is not a folder; expected "
                              "the folder the list files' image paths are relative to")


def test_listed_images_a_copy_lacks_are_refused_or_dropped_from_every_split_and_recorded(tmp_path):
    """NUS-WIDE's released lists name images many copies lack: missing: refuse (default) or drop."""
    lists = released_lists(tmp_path)
    gone = tmp_path / "images/class0/img003.jpg"  # a database image, not a training one
    gone.unlink()
    spec = spec_for(tmp_path, lists)
    with pytest.raises(HashbenchError, match=r"database.txt: 1 bad line\(s\): line 2: image not found: .*img003.jpg"):
        splits.prepare("toy", spec, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    splits.prepare("toy", {**spec, "missing": "drop"}, tmp_path / "dropped")
    data = splits.load(tmp_path / "dropped")
    assert {k: v.size for k, v in data.split.items()} == {"query": 6, "database": 29, "train": 15}
    assert str(gone) not in data.items().tolist()
    meta = json.loads((tmp_path / "dropped/split.json").read_text())
    assert meta["missing_dropped"] == {"count": 1, "images": [str(gone)]}
    with pytest.raises(HashbenchError, match=r"protocol_defs.d.missing': only sources of image files take it"):
        config.validate({"protocols": ["d"], "methods": ["ITQ"], "bits": [8], "seeds": [0], "protocol_defs": {"d": {
            "source": "sklearn-digits", "features": "pixels", "labels": "single", "topk": 5, "seed": 0,
            "missing": "drop", "split": {"query": {"per_class": 1}, "train": {"per_class": 2}}}}})
