"""The deep methods' input: image sets that the training loop draws mini-batches from.

``ArrayImages``: in-memory images scaled to [0, 1], used as they are (the embedded protocols).
``PipelineImages``: image files, the protocol's image cache (``ImageCache``) or in-memory colour
images through the released code's pipeline (``hashbench.settings.pipeline_spec``):
  training  resize to resize x resize, a random crop of crop x crop (``train_crop``:
            "random-resized", torchvision's RandomResizedCrop as in the released PyTorch code,
            default; or "random", a plain random crop as in the released Caffe code), random
            horizontal flip, ImageNet mean/std normalisation;
  encoding  resize, centre crop, normalisation; with ``ten_crop`` the hash-layer outputs are
            averaged over the four corner and centre crops and their flips (released test_10crop).
Every random choice of the training pipeline is seeded by (run seed, iteration, position in the
batch), so a run is reproducible whatever the number of workers. An image that fails to decode
stops the run with its path. Two implementations (``augment``):
  "device"  (default) a batch's resized uint8 images are gathered in a background thread (from the
            cache: one indexed read of the memory map; else decoded and resized by ``workers``
            loader processes), pinned, copied to the training device, and cropped, flipped and
            normalised there as whole-batch tensor operations (``DeviceAugment``). The crop
            parameters are drawn exactly as torchvision's transforms draw them under the same
            sample seed, so "random" crops give the PIL path's tensors bit for bit;
            "random-resized" interpolates the crop with torchvision's antialiased bilinear resize of
            tensors, which differs from PIL's by rounding (docs/workflow.md: On a GPU);
  "pil"     every sample through PIL and torchvision's transforms in a loader process.
``ImageCache``: every image of a protocol decoded once and resized to resize x resize with the
pipeline's own resize, stored as one uint8 (N, resize, resize, 3) .npy file and memory-mapped by
each loader process. Reading a cached image gives the same pixels as decoding the file (the
pipeline's resize of an image already at that size is the identity), so a run trains the same
with or without the cache.
"""

from __future__ import annotations

import collections
import threading
from queue import Full, Queue

import numpy as np
import torch

from hashbench.deep.augment import IMAGENET_MEAN, IMAGENET_STD, DeviceAugment, sample_seeds
from hashbench.errors import HashbenchError


def as_image_set(X):
    """An image set as is; an (N, C, H, W) float array in [0, 1] as ArrayImages."""
    if isinstance(X, (ArrayImages, PipelineImages)):
        return X
    return ArrayImages(np.asarray(X, dtype=np.float32), 1.0, channels_first=True)


class ArrayImages:
    def __init__(self, images: np.ndarray, pixel_max: float, channels_first: bool = False):
        if not channels_first:
            images = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
        self.images = images
        self.pixel_max = np.float32(pixel_max)
        self.channels, self.size = images.shape[1], tuple(images.shape[2:])

    def __len__(self):
        return self.images.shape[0]

    def __getitem__(self, index):
        return ArrayImages(self.images[np.asarray(index)], self.pixel_max, channels_first=True)

    def _tensor(self, rows: np.ndarray, device) -> torch.Tensor:
        """Channels-last: 1.5-2x faster convolutions on CPU (oneDNN) and GPU."""
        batch = torch.from_numpy(np.asarray(rows, dtype=np.float32) / self.pixel_max)
        return batch.to(device, memory_format=torch.channels_last)

    def train_batches(self, batches, device):
        for _, index in batches:
            yield index, self._tensor(self.images[index], device)

    def encode_batches(self, batch_size: int, device):
        for i in range(0, len(self), batch_size):
            yield self._tensor(self.images[i:i + batch_size], device)


class ImageCache:
    """A protocol's resized images, uint8 (N, R, R, 3) in one .npy file, opened memory-mapped on first
    use in each process (a loader worker receives the path, never the pixels)."""

    def __init__(self, path):
        self.path, self._array = str(path), None

    def __getstate__(self):
        return {"path": self.path, "_array": None}

    @property
    def array(self) -> np.ndarray:
        if self._array is None:
            self._array = np.load(self.path, mmap_mode="r", allow_pickle=False)
        return self._array

    def __len__(self):
        return len(self.array)

    def __getitem__(self, i: int) -> np.ndarray:
        return np.asarray(self.array[i])


def resized_image(item, resize: int) -> np.ndarray:
    """One image (a file's path or an (H, W, 3) uint8 array) decoded and resized as the pipeline
    does it, uint8 (resize, resize, 3)."""
    from torchvision import transforms as T

    return np.array(T.Resize((resize, resize))(_Decoded.as_pil(item)))


class _Resized(torch.utils.data.Dataset):
    """Item i: ``source[i]`` (a path or an image array) resized to resize x resize, uint8 (R, R, 3)."""

    def __init__(self, source, resize: int):
        self.source, self.resize = source, resize

    def __len__(self):
        return len(self.source)

    def __getitem__(self, i):
        return torch.from_numpy(resized_image(self.source[int(i)], self.resize))


def write_cache(paths: np.ndarray, resize: int, out, workers: int) -> None:
    """Decode and resize every image of ``paths`` with ``workers`` loader processes into the
    ImageCache file ``out``, written in place of a temporary file (never half-written)."""
    from tqdm import tqdm

    from hashbench.io import atomic_path

    loader = torch.utils.data.DataLoader(_Resized(paths, resize), batch_size=64, num_workers=workers,
                                         prefetch_factor=4 if workers else None)
    with atomic_path(out) as tmp:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(paths), resize, resize, 3))
        done = 0
        for batch in tqdm(_reraise(loader), total=len(loader), desc="image cache", disable=None, mininterval=2.0):
            array[done:done + len(batch)] = batch.numpy()
            done += len(batch)
        array.flush()
        del array


class _Decoded(torch.utils.data.Dataset):
    """Item ``key`` -> a normalised tensor; a key is a position in ``rows`` (encoding) or (position,
    sample seed). ``source[rows[i]]`` is an image path or an (H, W, 3) uint8 array."""

    def __init__(self, source, rows: np.ndarray, transform, seeded: bool):
        self.source, self.rows, self.transform, self.seeded = source, rows, transform, seeded

    def __len__(self):
        return len(self.rows)

    @staticmethod
    def open(path: str):
        from PIL import Image

        try:
            with Image.open(path) as image:
                return image.convert("RGB")
        except Exception as exc:
            raise HashbenchError(f"{path}: cannot read the image ({type(exc).__name__}: {exc})") from None

    @classmethod
    def as_pil(cls, item):
        """A PIL RGB image of an (H, W, 3) uint8 array or of an image file's path."""
        from PIL import Image

        if isinstance(item, np.ndarray):
            return Image.fromarray(item).convert("RGB")
        return cls.open(str(item))

    def image(self, i: int):
        return self.as_pil(self.source[int(self.rows[i])])

    def __getitem__(self, key):
        if not self.seeded:
            return self.transform(self.image(key))
        i, sample_seed = key
        with torch.random.fork_rng(devices=[]):  # torchvision's random transforms draw from torch's RNG
            torch.manual_seed(sample_seed)
            return self.transform(self.image(i)), i


class PipelineImages:
    """The images ``source[rows]``; ``source``: an array of paths, an ImageCache or an (N, H, W, 3)
    uint8 array. ``pipeline["workers"]`` must be resolved to a number (``hashbench.settings.loader_workers``)."""

    def __init__(self, source, pipeline: dict, rows: np.ndarray | None = None):
        self.source, self.pipeline = source, pipeline
        self.rows = np.arange(len(source)) if rows is None else rows
        self.channels, self.size = 3, (pipeline["crop"], pipeline["crop"])

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        return PipelineImages(self.source, self.pipeline, self.rows[np.asarray(index)])

    def _transforms(self, train: bool):
        from torchvision import transforms as T

        p = self.pipeline
        if train:
            crop = T.RandomResizedCrop(p["crop"]) if p["train_crop"] == "random-resized" else T.RandomCrop(p["crop"])
            steps = [crop, T.RandomHorizontalFlip()]
        else:
            steps = [T.TenCrop(p["crop"]) if p["ten_crop"] else T.CenterCrop(p["crop"])]
        to_tensor = T.Compose([T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
        last = _EachCrop(to_tensor) if not train and p["ten_crop"] else to_tensor
        return T.Compose([T.Resize((p["resize"], p["resize"])), *steps, last])

    def _loader(self, transform, seeded: bool, device, **kwargs):
        workers = self.pipeline["workers"]
        return torch.utils.data.DataLoader(_Decoded(self.source, self.rows, transform, seeded), num_workers=workers,
                                           pin_memory=torch.device(device).type == "cuda",
                                           persistent_workers=False, prefetch_factor=4 if workers else None, **kwargs)

    def train_batches(self, batches, device):
        """``batches`` (``hashbench.deep.trainer.Batches``) yields (iteration, index array); each sample's
        augmentation is seeded by (the run's seed ``batches.seed``, iteration, position)."""
        if self.pipeline["augment"] == "device":
            yield from self._device_train_batches(batches, torch.device(device))
            return

        def keys():
            for iteration, index in batches:
                yield [(int(i), int(s)) for i, s in zip(index, sample_seeds(batches.seed, iteration, len(index)))]

        for images, index in _reraise(self._loader(self._transforms(True), True, device, batch_sampler=keys())):
            yield index.numpy(), images.to(device, non_blocking=True, memory_format=torch.channels_last)

    def encode_batches(self, batch_size: int, device):
        if self.pipeline["augment"] == "device":
            yield from self._device_encode_batches(batch_size, torch.device(device))
            return
        loader = self._loader(self._transforms(False), False, device, batch_size=batch_size, shuffle=False)
        for images in _reraise(loader):
            yield images.to(device, non_blocking=True)

    # --- the device path -------------------------------------------------------------------------
    def _direct(self) -> np.ndarray | None:
        """The (N, R, R, 3) uint8 array a batch is one indexed read of (the cache, or images already
        at the resize size), else None (files and images of other sizes are decoded and resized by
        loader processes)."""
        r = self.pipeline["resize"]
        array = self.source.array if isinstance(self.source, ImageCache) else self.source
        if isinstance(array, np.ndarray) and array.dtype == np.uint8 and array.shape[1:] == (r, r, 3):
            return array
        return None

    def _resized(self, row_batches):
        """(extra, uint8 (B, R, R, 3)) for each (extra, rows) of ``row_batches``, rows being positions in
        this set, decoded and resized by the loader processes (the source is not ``_direct``)."""
        pending = collections.deque()

        def sampler():
            for extra, rows in row_batches:
                pending.append(extra)
                yield self.rows[rows].tolist()

        workers = self.pipeline["workers"]
        loader = torch.utils.data.DataLoader(_Resized(self.source, self.pipeline["resize"]), batch_sampler=sampler(),
                                             num_workers=workers, prefetch_factor=4 if workers else None)
        for images in _reraise(loader):
            yield pending.popleft(), images.numpy()

    def _device_batches(self, row_batches, device: torch.device, on_cpu, on_device):
        """``on_cpu(source, rows, extra)`` or ``on_device(uint8 images on the device, extra)`` of each
        (extra, rows) of ``row_batches``, prepared in a background thread: on a CPU the whole batch
        there, from the cache's memory map (or the decoded batch); for a GPU the batch's resized
        images, one indexed read of the cache, pinned, then copied and transformed on the device."""
        array = self._direct()
        if array is not None:
            batches = ((extra, array, self.rows[rows]) for extra, rows in row_batches)
        else:
            batches = ((extra, images, np.arange(len(images))) for extra, images in self._resized(row_batches))
        cuda = device.type == "cuda"

        def produce():
            for extra, source, rows in batches:
                if cuda:
                    yield extra, torch.from_numpy(source[rows] if array is not None else source).pin_memory()
                else:
                    yield extra, on_cpu(source, rows, extra)

        for extra, batch in background(produce()):
            yield extra, on_device(batch.to(device, non_blocking=True), extra) if cuda else batch

    def _device_train_batches(self, batches, device: torch.device):
        augment = DeviceAugment(self.pipeline)
        drawn = (((index, augment.draw(sample_seeds(batches.seed, iteration, len(index)))), index)
                 for iteration, index in batches)
        for (index, _), images in self._device_batches(
                drawn, device, lambda source, rows, extra: augment.cpu_train(source, rows, extra[1]),
                lambda images, extra: augment.train(images, extra[1])):
            yield index, images

    def _device_encode_batches(self, batch_size: int, device: torch.device):
        augment = DeviceAugment(self.pipeline)
        chunks = ((None, np.arange(i, min(i + batch_size, len(self)))) for i in range(0, len(self), batch_size))
        for _, images in self._device_batches(chunks, device, lambda source, rows, _: augment.cpu_encode(source, rows),
                                              lambda images, _: augment.encode(images)):
            yield images


def background(items, depth: int = 3):
    """Iterate ``items`` in a background thread, up to ``depth`` ahead; an error there is raised here.
    Closing this generator stops the thread."""
    done, stop = object(), threading.Event()
    queue = Queue(maxsize=depth)

    def put(value) -> bool:
        while not stop.is_set():
            try:
                queue.put(value, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def run():
        try:
            for value in items:
                if not put((True, value)):
                    return
            put((True, done))
        except BaseException as exc:  # noqa: BLE001 -- re-raised in the consumer
            put((False, exc))

    thread = threading.Thread(target=run, daemon=True, name="hashbench-batches")
    thread.start()
    try:
        while True:
            ok, value = queue.get()
            if not ok:
                raise value
            if value is done:
                return
            yield value
    finally:
        stop.set()
        thread.join(timeout=5)


class _EachCrop:
    """The ten crops of TenCrop as one (10, C, H, W) tensor (a class, so loader workers can pickle it)."""

    def __init__(self, to_tensor):
        self.to_tensor = to_tensor

    def __call__(self, crops):
        return torch.stack([self.to_tensor(c) for c in crops])


def _reraise(loader):
    """Iterate a DataLoader; a HashbenchError raised in a worker comes back as one clean line."""
    iterator = iter(loader)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except HashbenchError as exc:
            text = str(exc).strip().splitlines()[-1]
            raise HashbenchError(text.removeprefix(f"{HashbenchError.__module__}.HashbenchError: ")) from None
