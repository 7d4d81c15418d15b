"""Event data as spike frames ``[T, B, C, H, W]``: N-MNIST, SHD, DVS-Gesture, Tonic, synthetic.

Events follow Tonic's convention: a numpy structured array with fields ``x``, ``y``, ``t``
(microseconds) and ``p`` (polarity 0/1), and ``sensor_size = (W, H, P)``; audio events
(SHD) have no ``y`` and ``sensor_size = (channels, 1, 1)``. Frames are event counts per time
bin, polarity channel and pixel: ``frame[t, p, y, x]``, or ``frame[t, p, x]`` without ``y``
(Tonic's ``ToFrame`` layouts); :func:`collate_frames` stacks samples along dim 1, giving
time-major batches.

Tonic is optional and never imported here: a Tonic dataset (``ds[i] -> (events, target)``
with ``ds.sensor_size``) and Tonic transforms (callables on events, e.g.
``tonic.transforms.Denoise``; or ``ToFrame``, whose frames are used as they come) plug into
:class:`EventFrames` as they are. Nothing here downloads anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = [
    "AUDIO_EVENT_DTYPE",
    "EVENT_DTYPE",
    "NMNIST",
    "SHD",
    "DVSGesture",
    "EventFrames",
    "SyntheticEvents",
    "collate_frames",
    "events_to_frames",
    "read_nmnist_bin",
    "write_nmnist_bin",
]

EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])
AUDIO_EVENT_DTYPE = np.dtype([("t", np.int64), ("x", np.int16), ("p", np.int8)])  # no y
_NMNIST_OVERFLOW_Y = 240  # a y of 240 marks a timestamp wrap (+2**13 µs from there on)


def _check_events(events: Any) -> np.ndarray:
    names = getattr(getattr(events, "dtype", None), "names", None) or ()
    missing = [f for f in ("x", "t", "p") if f not in names]
    if missing:
        raise TypeError(
            f"events must be a structured array with fields x, y, t, p (y optional); missing "
            f"{missing} (got {type(events).__name__} with fields {names})"
        )
    return events


def events_to_frames(
    events: np.ndarray,
    sensor_size: Sequence[int],
    num_steps: int | None = None,
    time_window: float | None = None,
    start_time: float | None = None,
) -> Tensor:
    """Count events into frames ``[T, P, H, W]`` (float32), or ``[T, P, W]`` for events
    without ``y`` (audio). A single-polarity sensor (``P = 1``) counts every event in channel
    0 whatever its ``p`` (Tonic gives SHD's events ``p = 1``), as long as ``p`` takes one value.

    Exactly one of ``num_steps`` (T equal bins from ``start_time`` to the last event) or
    ``time_window`` (bins of that many µs; T = as many as the recording needs) is given.
    ``start_time`` defaults to the first event. Bin ``k`` holds ``t0 + k·w ≤ t < t0 + (k+1)·w``;
    with ``num_steps`` the last event goes into the last bin.
    """
    events = _check_events(events)
    if (num_steps is None) == (time_window is None):
        raise ValueError("give exactly one of num_steps and time_window")
    width, height, channels = (int(s) for s in sensor_size)
    has_y = "y" in events.dtype.names
    x = events["x"].astype(np.int64)
    y = events["y"].astype(np.int64) if has_y else np.zeros_like(x)
    p = events["p"].astype(np.int64)
    if channels == 1 and len(p):
        if np.unique(p).size > 1:
            raise ValueError(f"a single-polarity sensor got polarities {sorted(set(p.tolist()))}")
        p = np.zeros_like(p)
    t = events["t"].astype(np.float64)
    if len(events) and (x.min() < 0 or x.max() >= width or y.min() < 0 or y.max() >= height):
        raise ValueError(f"event coordinates fall outside sensor_size (W={width}, H={height})")
    if len(events) and (p.min() < 0 or p.max() >= channels):
        raise ValueError(f"polarities must lie in [0, {channels}), got {sorted(set(p.tolist()))}")
    t0 = float(start_time) if start_time is not None else (float(t.min()) if len(t) else 0.0)
    t = t - t0
    if num_steps is not None:
        if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
            raise ValueError(f"num_steps must be a positive int, got {num_steps!r}")
        span = float(t.max()) if len(t) else 0.0
        steps = num_steps
        bins = np.floor(t * steps / span) if span > 0 else np.zeros_like(t)
        bins = np.minimum(bins, steps - 1)
    else:
        if not time_window > 0:
            raise ValueError(f"time_window must be positive (µs), got {time_window}")
        bins = np.floor(t / time_window)
        steps = int(bins.max()) + 1 if len(t) else 1
    keep = bins >= 0  # events before start_time are dropped
    flat = ((bins[keep].astype(np.int64) * channels + p[keep]) * height + y[keep]) * width + x[keep]
    counts = np.bincount(flat, minlength=steps * channels * height * width)
    frames = torch.from_numpy(counts.astype(np.float32)).reshape(steps, channels, height, width)
    return frames if has_y else frames[:, :, 0]


def collate_frames(batch: Sequence[tuple[Tensor, Any]]) -> tuple[Tensor, Tensor]:
    """``[(frames [T_i, C, H, W], label), …] -> (frames [T, B, C, H, W], labels [B])``.

    Shorter samples are padded with empty frames at the end to the longest ``T``.
    """
    frames = [torch.as_tensor(f) for f, _ in batch]
    steps = max(f.shape[0] for f in frames)
    out = frames[0].new_zeros((steps, len(frames), *frames[0].shape[1:]))
    for i, f in enumerate(frames):
        out[: f.shape[0], i] = f
    return out, torch.as_tensor([label for _, label in batch])


class EventFrames(Dataset):
    """Wraps an event dataset (Tonic's or ours) so that items are ``(frames [T, C, H, W], y)``.

    ``transform`` (e.g. a Tonic transform or ``tonic.transforms.Compose``) is applied to the
    events first; if it already returns frames (a numeric array, as ``ToFrame`` does) they are
    used as they are, otherwise the events are binned with :func:`events_to_frames`.
    """

    def __init__(
        self,
        dataset: Any,
        num_steps: int | None = None,
        time_window: float | None = None,
        transform: Callable | None = None,
        sensor_size: Sequence[int] | None = None,
    ) -> None:
        self.dataset = dataset
        self.sensor_size = tuple(sensor_size or getattr(dataset, "sensor_size", ()))
        if len(self.sensor_size) != 3:
            raise ValueError(
                "sensor_size (W, H, P) is needed: pass it or use a dataset with .sensor_size"
            )
        self.num_steps, self.time_window, self.transform = num_steps, time_window, transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Tensor, Any]:
        events, target = self.dataset[index]
        if self.transform is not None:
            events = self.transform(events)
        if getattr(events.dtype, "names", None):
            frames = events_to_frames(
                events, self.sensor_size, num_steps=self.num_steps, time_window=self.time_window
            )
        else:
            frames = torch.as_tensor(np.asarray(events), dtype=torch.float32)
        return frames, target


# -- N-MNIST ---------------------------------------------------------------------------------


def read_nmnist_bin(path: str | Path) -> np.ndarray:
    """Events of one N-MNIST ``.bin`` file (Orchard et al. 2015's format).

    Each event is 5 bytes: ``x``, ``y``, then a 24-bit big-endian word whose top bit is the
    polarity and whose low 23 bits are the timestamp in µs. A record with ``y = 240`` is a
    timestamp-overflow marker: it adds ``2**13`` µs to every later event and is dropped.
    """
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % 5:
        raise ValueError(f"{path}: size {raw.size} bytes is not a multiple of 5 (N-MNIST events)")
    raw = raw.reshape(-1, 5).astype(np.int64)
    stamps = ((raw[:, 2] & 0x7F) << 16) | (raw[:, 3] << 8) | raw[:, 4]
    overflow = raw[:, 1] == _NMNIST_OVERFLOW_Y
    stamps = stamps + np.cumsum(overflow) * 2**13
    real = ~overflow
    events = np.empty(int(real.sum()), dtype=EVENT_DTYPE)
    events["x"], events["y"] = raw[real, 0], raw[real, 1]
    events["t"], events["p"] = stamps[real], raw[real, 2] >> 7
    return events


def write_nmnist_bin(path: str | Path, events: np.ndarray) -> None:
    """Write events in N-MNIST's ``.bin`` format (timestamps below ``2**23`` µs, x, y < 240)."""
    events = _check_events(events)
    t = events["t"].astype(np.int64)
    if len(t) and (t.min() < 0 or t.max() >= 2**23):
        raise ValueError("N-MNIST timestamps must lie in [0, 2**23) µs")
    if len(t) and (events["x"].max() >= 240 or events["y"].max() >= 240):
        raise ValueError("N-MNIST coordinates must be below 240")
    raw = np.empty((len(events), 5), dtype=np.uint8)
    raw[:, 0], raw[:, 1] = events["x"], events["y"]
    raw[:, 2] = ((events["p"].astype(np.int64) & 1) << 7) | (t >> 16)
    raw[:, 3], raw[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    raw.tofile(path)


class _EventFiles(Dataset):
    """A reader of recorded event files: ``_read(index) -> (events, label)``, then the user's
    ``transform`` on the events and ``target_transform`` on the label (Tonic's convention)."""

    def __init__(self, transform: Callable | None, target_transform: Callable | None) -> None:
        self.transform, self.target_transform = transform, target_transform

    def _read(self, index: int) -> tuple[np.ndarray, Any]:
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        events, label = self._read(index)
        if self.transform is not None:
            events = self.transform(events)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return events, label


def _find_under(base: Path, name: str, subfolder: str, want_dir: bool, what: str) -> Path:
    """``base/name`` or ``base/subfolder/name`` (Tonic's layout), whichever exists; never
    downloads: a missing one raises ``FileNotFoundError`` naming both places."""
    for candidate in (base / name, base / subfolder / name):
        if candidate.is_dir() if want_dir else candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{what} {name} not found under {base} (or {base / subfolder}); download and "
        "unpack it there yourself, spikeforge does not"
    )


class NMNIST(_EventFiles):
    """N-MNIST from its extracted files: ``root/{Train,Test}/<digit>/<id>.bin``.

    ``root`` may also be the folder above an ``NMNIST`` directory (Tonic's layout). Items
    are ``(events, digit)``; ``transform`` is applied to the events (wrap the dataset in
    :class:`EventFrames` for frames). ``first_saccade_only`` keeps events with
    ``t < 100 ms``. Nothing is downloaded: a missing folder raises ``FileNotFoundError``.
    """

    sensor_size = (34, 34, 2)
    ordering = ("x", "y", "t", "p")

    def __init__(
        self,
        root: str | Path,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        first_saccade_only: bool = False,
    ) -> None:
        split = "Train" if train else "Test"
        base = Path(root)
        folder = next((d for d in (base / split, base / "NMNIST" / split) if d.is_dir()), None)
        if folder is None:
            raise FileNotFoundError(
                f"N-MNIST {split} files not found under {base} (expected {base / split}/<digit>/"
                "*.bin); download and extract the dataset there yourself, spikeforge does not"
            )
        self.files = sorted(
            (path, int(path.parent.name))
            for path in folder.glob("*/*.bin")
            if path.parent.name.isdigit()
        )
        if not self.files:
            raise FileNotFoundError(f"no <digit>/*.bin files under {folder}")
        super().__init__(transform, target_transform)
        self.first_saccade_only = first_saccade_only

    def __len__(self) -> int:
        return len(self.files)

    def _read(self, index: int) -> tuple[np.ndarray, Any]:
        path, label = self.files[index]
        events = read_nmnist_bin(path)
        if self.first_saccade_only:
            events = events[events["t"] < 100_000]
        return events, label


# -- SHD (Spiking Heidelberg Digits) -----------------------------------------------------------


class SHD(_EventFiles):
    """The Spiking Heidelberg Digits from their HDF5 files ``shd_train.h5`` / ``shd_test.h5``.

    Layout (Cramer et al. 2020, as Tonic reads it): ``spikes/times`` holds one float array of
    spike times in seconds per sample, ``spikes/units`` the matching input channels (0–699),
    ``labels`` the class (0–19). Items are ``(events, label)`` with events of
    ``AUDIO_EVENT_DTYPE`` (``t`` in µs, ``x`` the channel, ``p = 1`` as Tonic writes) and
    ``sensor_size = (700, 1, 1)``. ``root`` holds the file, or an ``SHD`` folder that does
    (Tonic's layout). Needs ``h5py`` (installed with Tonic: ``spikeforge[events]``).
    """

    sensor_size = (700, 1, 1)
    ordering = ("t", "x", "p")

    def __init__(
        self,
        root: str | Path,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ) -> None:
        name = "shd_train.h5" if train else "shd_test.h5"
        base = Path(root)
        path = _find_under(base, name, "SHD", want_dir=False, what="SHD file")
        try:
            import h5py
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(
                "reading SHD needs h5py: pip install 'spikeforge[events]'"
            ) from err
        with h5py.File(path, "r") as file:
            missing = [k for k in ("spikes/times", "spikes/units", "labels") if k not in file]
            if missing:
                raise ValueError(f"{path}: not an SHD file, it lacks {missing}")
            self.times = [np.asarray(t, dtype=np.float64) for t in file["spikes/times"]]
            self.units = [np.asarray(u) for u in file["spikes/units"]]
            self.labels = np.asarray(file["labels"]).astype(np.int64)
        if not len(self.times) == len(self.units) == len(self.labels):
            raise ValueError(f"{path}: spikes/times, spikes/units and labels differ in length")
        self.path = path
        super().__init__(transform, target_transform)

    def __len__(self) -> int:
        return len(self.labels)

    def _read(self, index: int) -> tuple[np.ndarray, Any]:
        times, units = self.times[index], self.units[index]
        events = np.empty(len(times), dtype=AUDIO_EVENT_DTYPE)
        events["t"] = (times * 1e6).astype(np.int64)  # seconds -> µs, truncated as Tonic does
        events["x"], events["p"] = units, 1
        return events, int(self.labels[index])


# -- DVS-Gesture -------------------------------------------------------------------------------


class DVSGesture(_EventFiles):
    """IBM DVS-Gesture in Tonic's preprocessed layout (each recording cut per gesture).

    ``root/ibmGestureTrain/user<NN>_<lighting>/<label>.npy`` (``ibmGestureTest`` for the test
    split; ``root`` may also be the folder above ``DVSGesture``): each file is an ``[N, 4]``
    array of ``x, y, p, t`` with ``t`` in ms. Items are ``(events, label)`` with events of
    ``EVENT_DTYPE`` (``t`` in µs) and ``sensor_size = (128, 128, 2)``; ``users[i]`` and
    ``lighting[i]`` describe sample ``i``. Nothing is downloaded.
    """

    sensor_size = (128, 128, 2)
    ordering = ("x", "y", "t", "p")

    def __init__(
        self,
        root: str | Path,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ) -> None:
        split = "ibmGestureTrain" if train else "ibmGestureTest"
        base = Path(root)
        folder = _find_under(base, split, "DVSGesture", want_dir=True, what="DVS-Gesture folder")
        self.files: list[tuple[Path, int]] = []
        self.users: list[int] = []
        self.lighting: list[str] = []
        for session in sorted(d for d in folder.iterdir() if d.is_dir()):
            user, _, light = session.name.partition("_")
            if not (user.startswith("user") and user[4:].isdigit() and light):
                continue
            for path in sorted(session.glob("*.npy"), key=lambda f: f.name):
                if path.stem.isdigit():
                    self.files.append((path, int(path.stem)))
                    self.users.append(int(user[4:]))
                    self.lighting.append(light)
        if not self.files:
            raise FileNotFoundError(f"no user<NN>_<lighting>/<label>.npy files under {folder}")
        super().__init__(transform, target_transform)

    def __len__(self) -> int:
        return len(self.files)

    def _read(self, index: int) -> tuple[np.ndarray, Any]:
        path, label = self.files[index]
        raw = np.load(path)
        if raw.ndim != 2 or raw.shape[1] != 4:
            raise ValueError(f"{path}: expected an [N, 4] array of x, y, p, t, got {raw.shape}")
        events = np.empty(len(raw), dtype=EVENT_DTYPE)
        events["x"], events["y"] = raw[:, 0], raw[:, 1]
        events["p"] = raw[:, 2] != 0  # (Tonic reads p as bool)
        events["t"] = (raw[:, 3] * 1000).astype(np.int64)  # ms -> µs, as Tonic converts
        return events, label


# -- synthetic events ------------------------------------------------------------------------


class SyntheticEvents(Dataset):
    """A small event dataset made on the fly: class ``k`` is a dot moving in direction
    ``2πk/num_classes`` across the sensor.

    Each sample starts the dot near the centre (random offset) and moves it one pixel every
    ``step_us`` µs for ``duration_us``; entering a pixel emits an ON event (``p = 1``) there,
    leaving one an OFF event (``p = 0``). ``noise_rate`` adds uniformly random events
    (expected count per sample). Sample ``i`` is reproducible: it depends on ``(seed, i)``.
    """

    def __init__(
        self,
        num_samples: int = 100,
        num_classes: int = 4,
        sensor_size: Sequence[int] = (32, 32, 2),
        duration_us: int = 20_000,
        step_us: int = 1_000,
        noise_rate: float = 5.0,
        seed: int = 0,
    ) -> None:
        if num_samples < 1 or num_classes < 1:
            raise ValueError(
                f"num_samples and num_classes must be >= 1, got {num_samples}, {num_classes}"
            )
        self.sensor_size = tuple(int(s) for s in sensor_size)
        if len(self.sensor_size) != 3 or self.sensor_size[2] != 2:
            raise ValueError(f"sensor_size must be (W, H, 2), got {sensor_size}")
        self.num_samples, self.num_classes = num_samples, num_classes
        self.duration_us, self.step_us = duration_us, step_us
        self.noise_rate, self.seed = noise_rate, seed

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        if not 0 <= index < self.num_samples:
            raise IndexError(f"index {index} out of range for {self.num_samples} samples")
        rng = np.random.default_rng([self.seed, index])
        label = index % self.num_classes
        width, height, _ = self.sensor_size
        angle = 2 * math.pi * label / self.num_classes
        start = np.array([width / 2, height / 2]) + rng.uniform(-2, 2, size=2)
        rows = []
        previous = None
        for k in range(self.duration_us // self.step_us):
            pos = start + k * np.array([math.cos(angle), math.sin(angle)])
            cell = (int(np.clip(pos[0], 0, width - 1)), int(np.clip(pos[1], 0, height - 1)))
            t = k * self.step_us + int(rng.integers(0, self.step_us // 2 + 1))
            if cell != previous:
                rows.append((*cell, t, 1))
                if previous is not None:
                    rows.append((*previous, t, 0))
            previous = cell
        for _ in range(rng.poisson(self.noise_rate)):
            rows.append((int(rng.integers(width)), int(rng.integers(height)),
                         int(rng.integers(self.duration_us)), int(rng.integers(2))))  # fmt: skip
        events = np.array(rows, dtype=EVENT_DTYPE)
        return np.sort(events, order="t", kind="stable"), label
