"""MNIST loading: the bundled copy, a folder of IDX files, or a Hub dataset; all as one float tensor up front."""

import gzip
import io
import math
import os
import zlib
from pathlib import Path

from trainer_common.errors import InputError

BUNDLED_MNIST = Path(__file__).parent / "mnist"
LOCAL_DATA = "leave out --dataset_name for the bundled MNIST, or give --data_dir; or run once online to fill the cache"
IDX_STEMS = {
    ("train", "images"): "train-images",
    ("train", "labels"): "train-labels",
    ("test", "images"): "t10k-images",
    ("test", "labels"): "t10k-labels",
}
# magic number -> (number of dimensions, what the file holds); the dtype code 0x08 is unsigned byte
IDX_MAGIC = {0x00000803: (3, "images"), 0x00000801: (1, "labels")}


def find_idx_file(data_dir: str | os.PathLike, split: str, kind: str) -> Path:
    """Locate e.g. `train-images-idx3-ubyte[.gz]` or `train-images.idx3-ubyte[.gz]` in `data_dir`."""
    stem, ndim = IDX_STEMS[(split, kind)], 3 if kind == "images" else 1
    names = [f"{stem}{sep}idx{ndim}-ubyte{ext}" for sep in ("-", ".") for ext in (".gz", "")]
    found = [Path(data_dir) / name for name in names if (Path(data_dir) / name).is_file()]
    if len(found) > 1:  # e.g. a .gz and its unpacked copy: which one is meant is not ours to guess
        both = " and ".join(file.name for file in found)
        raise InputError(f"{data_dir}: {both} both hold the MNIST {split} {kind}: keep one")
    if not found:
        raise InputError(f"no MNIST {split} {kind} file in {data_dir}: looked for {', '.join(names)}")
    return found[0]


MAX_IDX_BYTES = 1 << 30  # 1 GiB: twenty times MNIST's training images; a larger header is corrupt or hostile


def _idx_size(head: bytes) -> int | None:
    """Bytes the whole file should have, from its header; None until the header is complete and known."""
    magic = int.from_bytes(head[:4], "big") if len(head) >= 4 else None
    if magic not in IDX_MAGIC:
        return None
    ndim = IDX_MAGIC[magic][0]
    if len(head) < 4 + 4 * ndim:
        return None
    return 4 + 4 * ndim + math.prod(int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))


def _read_idx_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped if needed: a gzip stream is read only as far as its header says the file goes
    (one byte more, to see padding), so a small file that unpacks to gigabytes is never unpacked."""
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            head = stream.read(16)  # the longest header (3 dimensions)
            size = _idx_size(head)
            if size is not None and size > MAX_IDX_BYTES:
                raise InputError(f"{path}: header claims {size} bytes, over the {MAX_IDX_BYTES}-byte limit")
            return head + stream.read(max(size or 0, 16) - len(head) + 1)
    except (OSError, EOFError, zlib.error) as err:
        raise InputError(f"{path}: corrupt gzip data ({err})") from err


def read_idx(path: str | os.PathLike):
    """Read an unsigned-byte IDX file (gzipped or raw) into a numpy array, checking magic number and size."""
    import numpy as np

    path = Path(path)
    raw = _read_idx_bytes(path)
    if len(raw) < 8:
        raise InputError(f"{path}: too short to be an IDX file ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in IDX_MAGIC:
        raise InputError(
            f"{path}: bad magic number 0x{magic:08x}; expected 0x00000803 (images) or 0x00000801 (labels)"
        )
    ndim = IDX_MAGIC[magic][0]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InputError(f"{path}: truncated header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = _idx_size(raw)
    if len(raw) != expected:
        raise InputError(f"{path}: truncated or padded: header says {shape} = {expected} bytes, file has {len(raw)}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_idx_split(data_dir: str | os.PathLike, split: str):
    """Images of one split as a float32 tensor [N, 784] in [0, 1], and their labels as int64 [N]."""
    import torch

    images_file = find_idx_file(data_dir, split, "images")
    images, labels = read_idx(images_file), read_idx(find_idx_file(data_dir, split, "labels"))
    if images.ndim != 3 or labels.ndim != 1:
        raise InputError(f"{data_dir}: {split} images must be 3-D and labels 1-D, got {images.shape}, {labels.shape}")
    if len(images) != len(labels):
        raise InputError(f"{data_dir}: {split} has {len(images)} images but {len(labels)} labels")
    if images.shape[1:] != (28, 28):  # the model's input_dim is 784
        raise InputError(f"{data_dir}: {split} images are {images.shape[1]}x{images.shape[2]}, expected MNIST's 28x28")
    if len(images) == 0:
        raise InputError(f"{images_file}: its header says it holds 0 images")
    pixels = torch.from_numpy(images.reshape(len(images), -1).astype("float32") / 255.0)
    return pixels, torch.from_numpy(labels.astype("int64"))


def hub_pixels(dataset, dataset_name: str, split: str):
    """The images of one split of a loaded Hub dataset with an `image` column of 28x28 grayscale digits (e.g.
    `ylecun/mnist`) as a float32 tensor [N, 784] in [0, 1]; an error naming the split and row for anything else."""
    import numpy as np
    import torch

    where = f"--dataset_name {dataset_name}[{split}]"
    if split not in dataset:
        raise InputError(f"--dataset_name {dataset_name}: no {split!r} split (splits: {', '.join(dataset)})")
    if "image" not in dataset[split].column_names:
        raise InputError(f"{where}: no 'image' column (columns: {', '.join(dataset[split].column_names)})")
    images = np.zeros((len(dataset[split]), 28, 28), dtype=np.uint8)
    try:
        for row, image in enumerate(dataset[split]["image"]):
            images[row] = _digit(image, f"{where}:{row + 1}")
    except OSError as err:  # an image file that does not decode
        raise InputError(f"{where}: an image does not decode ({type(err).__name__}: {err})") from err
    return torch.from_numpy(images.reshape(len(images), -1).astype("float32") / 255.0)


def _digit(image, where: str):
    """`image` (a PIL image or nested lists) as a 28x28 uint8 array; its own error for anything else, so that one
    odd row is named rather than failing or broadcasting in the stack."""
    import numpy as np

    try:
        array = np.asarray(image, dtype=np.uint8)
    except (TypeError, ValueError, OverflowError) as err:
        raise InputError(f"{where}: expected a 28x28 grayscale image, got {type(image).__name__} ({err})") from err
    if array.shape != (28, 28):
        raise InputError(f"{where}: expected a 28x28 grayscale image, got one of shape {array.shape}")
    return array


class MNISTDataset:
    """Flattened images held as one tensor; each item is `{"pixel_values": tensor[784]}`."""

    def __init__(self, pixels, binarize: bool = False):
        self.pixels = (pixels > 0.5).float() if binarize else pixels

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, index: int) -> dict:
        return {"pixel_values": self.pixels[index]}


def collate(features: list[dict]) -> dict:
    import torch

    return {"pixel_values": torch.stack([feature["pixel_values"] for feature in features])}


def load_mnist(data_dir=None, dataset_name=None, dataset_config_name=None, binarize=False, train=True):
    """Train and test `MNISTDataset`s from the Hub dataset, the IDX folder, or the bundled copy, in that order.
    Without `train` (an evaluation), the train split is neither read nor needed: it comes back empty."""
    import torch

    splits = ("train", "test") if train else ("test",)
    if dataset_name:
        from trainer_common.hub_data import load_dataset_checked

        dataset = load_dataset_checked(dataset_name, dataset_config_name, advice=LOCAL_DATA)
        pixels = [hub_pixels(dataset, dataset_name, split) for split in splits]
    else:
        directory = data_dir or BUNDLED_MNIST
        pixels = [load_idx_split(directory, split)[0] for split in splits]
    if not train:
        pixels.insert(0, torch.empty(0, pixels[0].shape[1], dtype=pixels[0].dtype))
    return MNISTDataset(pixels[0], binarize), MNISTDataset(pixels[1], binarize)
