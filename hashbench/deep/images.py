"""The deep methods' input: image sets that the training loop draws mini-batches from.

``ArrayImages``: in-memory images scaled to [0, 1], used as they are (the embedded protocols).
``PipelineImages``: image files, the protocol's image cache (``ImageCache``) or in-memory colour
images, read by ``workers`` loader processes through the released code's pipeline
(``hashbench.config.pipeline_spec``):
  training  resize to resize x resize, a random crop of crop x crop (``train_crop``:
            "random-resized", torchvision's RandomResizedCrop as in the released PyTorch code,
            default; or "random", a plain random crop as in the released Caffe code), random
            horizontal flip, ImageNet mean/std normalisation;
  encoding  resize, centre crop, normalisation; with ``ten_crop`` the hash-layer outputs are
            averaged over the four corner and centre crops and their flips (released test_10crop).
Every random choice of the training pipeline is seeded by (run seed, iteration, position in the
batch), so a run is reproducible whatever the number of workers. An image that fails to decode
stops the run with its path.
``ImageCache``: every image of a protocol decoded once and resized to resize x resize with the
pipeline's own resize, stored as one uint8 (N, resize, resize, 3) .npy file and memory-mapped by
each loader process. Reading a cached image gives the same pixels as decoding the file (the
pipeline's resize of an image already at that size is the identity), so a run trains the same
with or without the cache.
"""

from __future__ import annotations

import numpy as np
import torch

from hashbench.errors import HashbenchError

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


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


def resized_image(path: str, resize: int) -> np.ndarray:
    """One image file decoded and resized as the pipeline does it, uint8 (resize, resize, 3)."""
    from torchvision import transforms as T

    return np.array(T.Resize((resize, resize))(_Decoded.open(path)))


class _Resized(torch.utils.data.Dataset):
    def __init__(self, paths: np.ndarray, resize: int):
        self.paths, self.resize = paths, resize

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return torch.from_numpy(resized_image(str(self.paths[i]), self.resize))


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

    def image(self, i: int):
        from PIL import Image

        item = self.source[int(self.rows[i])]
        if isinstance(item, np.ndarray):
            return Image.fromarray(item).convert("RGB")
        return self.open(str(item))

    def __getitem__(self, key):
        if not self.seeded:
            return self.transform(self.image(key))
        i, sample_seed = key
        with torch.random.fork_rng(devices=[]):  # torchvision's random transforms draw from torch's RNG
            torch.manual_seed(sample_seed)
            return self.transform(self.image(i)), i


class PipelineImages:
    """The images ``source[rows]``; ``source``: an array of paths, an ImageCache or an (N, H, W, 3)
    uint8 array. ``pipeline["workers"]`` must be resolved to a number (``hashbench.config.workers``)."""

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
        """``batches`` (``hashbench.deep.loop.Batches``) yields (iteration, index array); each sample's
        augmentation is seeded by (the run's seed ``batches.seed``, iteration, position)."""
        def keys():
            for iteration, index in batches:
                states = np.random.SeedSequence([batches.seed, iteration]).generate_state(len(index))
                yield [(int(i), int(s)) for i, s in zip(index, states)]

        for images, index in _reraise(self._loader(self._transforms(True), True, device, batch_sampler=keys())):
            yield index.numpy(), images.to(device, non_blocking=True, memory_format=torch.channels_last)

    def encode_batches(self, batch_size: int, device):
        loader = self._loader(self._transforms(False), False, device, batch_size=batch_size, shuffle=False)
        for images in _reraise(loader):
            yield images.to(device, non_blocking=True)


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
