"""The image pipeline's crops, flips and normalisation as batch operations (``augment: device``).

Each sample's crop and flip are drawn with a private generator seeded by its sample seed, in the
order and with the calls torchvision's RandomCrop / RandomResizedCrop and RandomHorizontalFlip make
under ``torch.manual_seed(sample seed)`` (the PIL path, ``hashbench.deep.images``), so both paths
crop the same pixels. A private generator, because this runs beside training, which draws from
torch's global one. Normalisation is a 3 x 256 table computed by torchvision's own ToTensor and
Normalize operations (divide by 255, subtract the mean, divide by the std, in float32), so a
normalised pixel is the PIL path's value bit for bit, on any device. A "random" crop is therefore
the PIL path's tensor exactly; a "random-resized" crop is resized per sample by torchvision's
tensor resize (bilinear, antialias, rounded to uint8 as PIL's is), whose pixels differ from PIL's by
rounding (bench/bench_loader.py measures by how much).

On a GPU the resized uint8 images are copied to the device and cropped there by one indexing
kernel. On a CPU one numba kernel crops, flips and looks up the table from the image cache's memory
map straight into the float batch: torch's elementwise operations make four passes over the batch
(cast, divide, subtract, divide) and an indexing pass, ten times slower on CPU. The float batches
are written into buffers that are reused once nothing references them any more: first writes to
fresh memory from parallel threads (page faults) took four times as long as the kernel itself.
"""

from __future__ import annotations

import math
import sys
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import torch
from numba import njit, prange

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def sample_seeds(run_seed: int, iteration: int, n: int) -> np.ndarray:
    """The seed of each sample's augmentation at ``iteration``, by position in the batch."""
    return np.random.SeedSequence([run_seed, iteration]).generate_state(n)


def normalisation_table() -> torch.Tensor:
    """(3, 256) float32: channel c's normalised value of each uint8 level, computed as torchvision's
    ToTensor then Normalize compute it."""
    from torchvision import transforms as T

    levels = torch.arange(256, dtype=torch.uint8).view(1, 256, 1).expand(3, 256, 1).contiguous()
    return T.Normalize(IMAGENET_MEAN, IMAGENET_STD)(levels.to(torch.float32).div(255)).view(3, 256)


@njit(parallel=True, cache=True, nogil=True)
def _crop_normalise(source, rows, boxes, size, table, out):  # pragma: no cover - compiled
    """out[b, k] = table-normalised crop (top, left, size x size, mirrored if flip) of source[rows[b]]
    for boxes[b, k] = (top, left, flip); source (N, H, W, 3) uint8, out (B, K, size, size, 3) float32."""
    n_crops = boxes.shape[1]
    for t in prange(rows.shape[0] * n_crops):
        b, k = t // n_crops, t % n_crops
        image, top, left, flip = source[rows[b]], boxes[b, k, 0], boxes[b, k, 1], boxes[b, k, 2]
        for y in range(size):
            for x in range(size):
                sx = left + size - 1 - x if flip else left + x
                for c in range(3):
                    out[b, k, y, x, c] = table[c, image[top + y, sx, c]]


class _Buffers:
    """float32 arrays handed out for batches and taken back once only this pool refers to them (the
    tensors and views made from one hold a reference to it until they are freed)."""

    def __init__(self, keep: int = 8):
        self.keep, self.arrays = keep, []

    def get(self, shape: tuple) -> np.ndarray:
        for array in self.arrays:
            if array.shape == shape and sys.getrefcount(array) == 3:  # the list, the loop variable, the call
                return array
        array = np.empty(shape, dtype=np.float32)
        self.arrays = [a for a in self.arrays if sys.getrefcount(a) > 3][-(self.keep - 1):] + [array]
        return array


class DeviceAugment:
    """The training and encoding transforms of a pipeline (``hashbench.settings.pipeline_spec``) on
    resized uint8 (B, R, R, 3) images: ``train`` / ``encode`` take them on the training device,
    ``cpu_train`` / ``cpu_encode`` read rows of an (N, R, R, 3) array (the cache's memory map)."""

    SCALE, RATIO = (0.08, 1.0), (3.0 / 4.0, 4.0 / 3.0)  # RandomResizedCrop's defaults

    def __init__(self, pipeline: dict):
        self.resize, self.crop = pipeline["resize"], pipeline["crop"]
        self.resized_crop, self.ten_crop = pipeline["train_crop"] == "random-resized", pipeline["ten_crop"]
        self.table = normalisation_table()
        self._tables, self._buffers, self._pool = {}, _Buffers(), None

    # --- the random draws ---------------------------------------------------------------------
    def draw(self, seeds) -> np.ndarray:
        """(B, 5) int64: each sample's crop top, left, height, width and flip (0/1)."""
        generator = torch.Generator()
        out = np.empty((len(seeds), 5), dtype=np.int64)
        for row, seed in zip(out, seeds):
            generator.manual_seed(int(seed))
            box = self._resized_box(generator) if self.resized_crop else self._box(generator)
            row[:] = (*box, int(torch.rand(1, generator=generator) < 0.5))
        return out

    def _box(self, g) -> tuple[int, int, int, int]:
        size, c = self.resize, self.crop
        if size == c:
            return 0, 0, c, c
        top = int(torch.randint(0, size - c + 1, (1,), generator=g))
        return top, int(torch.randint(0, size - c + 1, (1,), generator=g)), c, c

    def _resized_box(self, g) -> tuple[int, int, int, int]:
        size = self.resize
        area, log_ratio = size * size, torch.log(torch.tensor(self.RATIO))
        for _ in range(10):
            target = area * torch.empty(1).uniform_(*self.SCALE, generator=g).item()
            aspect = torch.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1], generator=g)).item()
            w, h = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
            if 0 < w <= size and 0 < h <= size:
                top = int(torch.randint(0, size - h + 1, (1,), generator=g))
                return top, int(torch.randint(0, size - w + 1, (1,), generator=g)), h, w
        return 0, 0, size, size  # a square image is within the ratio range: the fallback is all of it

    def encode_boxes(self) -> np.ndarray:
        """(K, 3) (top, left, flip): the centre crop, or TenCrop's ten (the four corners and the centre
        of the image, then of its mirror image, i.e. mirrored crops of the mirrored positions)."""
        size, c = self.resize, self.crop
        centre = int(round((size - c) / 2.0))
        if not self.ten_crop:
            return np.array([[centre, centre, 0]])
        corners = [(0, 0), (0, size - c), (size - c, 0), (size - c, size - c), (centre, centre)]
        return np.array([(i, j, 0) for i, j in corners] + [(i, size - c - j, 1) for i, j in corners])

    # --- on the training device ---------------------------------------------------------------
    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (..., H, W, 3) -> float32 (..., 3, H, W), a channels-last view, by the table."""
        if images.device not in self._tables:
            self._tables[images.device] = self.table.to(images.device).view(-1)
        offsets = torch.arange(0, 3 * 256, 256, device=images.device)
        return self._tables[images.device][images.to(torch.int64) + offsets].movedim(-1, -3)

    def _resized_crops(self, crop_of, draws, cpu: bool) -> torch.Tensor:
        """uint8 (B, c, c, 3): each draw's box, ``crop_of(b, top, left, height, width)`` as an (h, w, 3)
        uint8 tensor, resized to c x c (not yet mirrored); on a CPU by numba's number of threads."""
        from torchvision.transforms.v2 import functional as F

        c = self.crop

        def resized(args):
            b, (i, j, h, w, _) = args
            return F.resize(crop_of(b, i, j, h, w).movedim(-1, 0), [c, c], antialias=True).movedim(0, -1)

        boxes = list(enumerate(draws.tolist()))
        threads = numba.get_num_threads()
        if threads == 1 or not cpu:
            return torch.stack([resized(box) for box in boxes])
        if self._pool is None:
            self._pool = ThreadPoolExecutor(threads, thread_name_prefix="hashbench-resize")
        return torch.stack(list(self._pool.map(resized, boxes)))

    def train(self, images: torch.Tensor, draws: np.ndarray) -> torch.Tensor:
        """The training batch (B, 3, c, c), channels-last, on the device of ``images``."""
        device, c = images.device, self.crop
        d = torch.from_numpy(draws).to(device)
        if self.resized_crop:
            images = self._resized_crops(lambda b, i, j, h, w: images[b, i:i + h, j:j + w], draws,
                                         images.device.type == "cpu")
            d = d * torch.tensor([0, 0, 0, 0, 1], device=device)  # crop boxes at 0: only the flips remain
        steps = torch.arange(c, device=device)
        rows = d[:, :1] + steps
        cols = d[:, 1:2] + torch.where(d[:, 4:5].bool(), c - 1 - steps, steps)
        batch = images[torch.arange(len(images), device=device)[:, None, None], rows[:, :, None], cols[:, None, :]]
        return self.normalise(batch)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """The centre crop (B, 3, c, c), channels-last; with ten_crop (B, 10, 3, c, c)."""
        c = self.crop
        crops = [images[:, i:i + c, j:j + c].flip(2) if flip else images[:, i:i + c, j:j + c]
                 for i, j, flip in self.encode_boxes().tolist()]
        if not self.ten_crop:
            return self.normalise(crops[0]).contiguous(memory_format=torch.channels_last)
        return self.normalise(torch.stack(crops, 1))

    # --- on a CPU, from the cache -------------------------------------------------------------
    def _crops(self, source: np.ndarray, rows: np.ndarray, boxes: np.ndarray) -> torch.Tensor:
        out = self._buffers.get((len(rows), boxes.shape[1], self.crop, self.crop, 3))
        _crop_normalise(np.asarray(source), np.ascontiguousarray(rows, dtype=np.int64),
                        np.ascontiguousarray(boxes, dtype=np.int64), self.crop, self.table.numpy(), out)
        return torch.from_numpy(out).movedim(-1, -3)

    def cpu_train(self, source: np.ndarray, rows: np.ndarray, draws: np.ndarray) -> torch.Tensor:
        """The training batch of source[rows] (B, 3, c, c), channels-last, on the CPU."""
        if self.resized_crop:
            crops = self._resized_crops(lambda b, i, j, h, w: torch.from_numpy(np.array(source[rows[b], i:i + h, j:j + w])),
                                        draws, cpu=True).numpy()
            boxes = np.stack([np.zeros(len(rows), np.int64)] * 2 + [draws[:, 4]], 1)
            return self._crops(crops, np.arange(len(rows)), boxes[:, None])[:, 0]
        return self._crops(source, rows, draws[:, [0, 1, 4]][:, None])[:, 0]

    def cpu_encode(self, source: np.ndarray, rows: np.ndarray) -> torch.Tensor:
        """The encoding batch of source[rows] on the CPU, as ``encode``."""
        boxes = self.encode_boxes()
        out = self._crops(source, rows, np.broadcast_to(boxes, (len(rows), *boxes.shape)))
        return out if self.ten_crop else out[:, 0]
