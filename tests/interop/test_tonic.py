"""Tonic itself with the event adaptor: Tonic's dtypes, transforms and datasets feed
``EventFrames``/``collate_frames``, and a network trains a step on the result."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

import spikeforge as snn
from spikeforge.datasets.events import (
    SHD,
    EventFrames,
    SyntheticEvents,
    collate_frames,
    events_to_frames,
)

tonic = pytest.importorskip("tonic")
T = tonic.transforms

SENSOR = (34, 34, 2)


class TonicStyleEvents:
    """Generated moving-dot events in the dtype of Tonic's N-MNIST, with its sensor size."""

    sensor_size = SENSOR

    def __init__(self, n: int = 8, seed: int = 0) -> None:
        self.source = SyntheticEvents(
            num_samples=n, num_classes=4, sensor_size=SENSOR, noise_rate=30, seed=seed
        )

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int):
        events, label = self.source[i]
        out = np.zeros(len(events), dtype=tonic.datasets.NMNIST.dtype)
        for field in ("x", "y", "t", "p"):
            out[field] = events[field]
        return out, label


def test_tonic_dtype_and_denoise_bin_as_tonics_to_frame():
    ds = TonicStyleEvents()
    events, _ = ds[0]
    denoise = T.Denoise(filter_time=3000)
    kept = denoise(events)
    assert 0 < len(kept) < len(events)  # isolated noise events went
    theirs = torch.from_numpy(T.ToFrame(sensor_size=SENSOR, time_window=2000)(kept)).float()
    ours = EventFrames(ds, time_window=2000, transform=denoise)[0][0]
    # Tonic drops an incomplete last window; every complete one is counted alike.
    assert ours.shape[1:] == theirs.shape[1:] == (2, 34, 34)
    assert len(theirs) in (len(ours), len(ours) - 1)
    assert torch.equal(ours[: len(theirs)], theirs)
    assert theirs.sum() > 0


def test_frames_from_to_frame_pass_through_the_adaptor():
    ds = TonicStyleEvents()
    transform = T.Compose([T.Denoise(filter_time=3000), T.ToFrame(SENSOR, n_time_bins=6)])
    frames, label = EventFrames(ds, transform=transform)[1]
    want = torch.from_numpy(transform(ds[1][0])).float()
    assert frames.dtype == torch.float32 and torch.equal(frames, want)
    assert frames.shape == (6, 2, 34, 34) and label == 1


def test_one_training_step_on_tonic_transformed_batches():
    torch.manual_seed(0)
    small = (17, 17, 2)
    transform = T.Compose(
        [
            T.Denoise(filter_time=3000),
            T.Downsample(spatial_factor=0.5),
            T.ToFrame(sensor_size=small, n_time_bins=8),
        ]
    )
    data = EventFrames(TonicStyleEvents(n=8), transform=transform)
    loader = DataLoader(data, batch_size=4, collate_fn=collate_frames)
    frames, labels = next(iter(loader))
    assert frames.shape == (8, 4, 2, 17, 17) and labels.tolist() == [0, 1, 2, 3]
    net = nn.Sequential(
        nn.Flatten(),
        nn.Linear(2 * 17 * 17, 32),
        snn.Leaky(beta=0.9, threshold=0.05, init_hidden=True),  # (a few events per frame)
        nn.Linear(32, 4),
        snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)
    before = [p.detach().clone() for p in net.parameters()]
    snn.utils.reset(net)
    mems = torch.stack([net(x)[1] for x in frames])
    loss = nn.functional.cross_entropy(mems.sum(0), labels)
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    assert torch.isfinite(loss)
    assert all(not torch.equal(b, p) for b, p in zip(before, net.parameters()))


def test_tonic_shd_dataset_and_to_frame_through_the_adaptor(tmp_path, monkeypatch):
    h5py = pytest.importorskip("h5py")
    folder = tmp_path / "SHD"
    folder.mkdir()
    with h5py.File(folder / "shd_train.h5", "w") as f:
        times = f.create_dataset("spikes/times", (2,), h5py.vlen_dtype(np.float32))
        units = f.create_dataset("spikes/units", (2,), h5py.vlen_dtype(np.uint16))
        times[0], units[0] = np.array([0.001, 0.0042, 0.0105], np.float32), np.array([0, 5, 699])
        times[1], units[1] = np.array([0.002, 0.003], np.float32), np.array([9, 9])
        f.create_dataset("labels", data=np.array([4, 11], dtype=np.uint16))
        f.create_dataset("extra/keys", data=np.array([b"k"] * 20))
        f.create_dataset("extra/speaker", data=np.zeros(2, dtype=np.uint16))
    (folder / "shd_train.h5.zip").write_bytes(b"")

    def refuse(self):
        raise AssertionError("Tonic tried to download")

    monkeypatch.setattr(tonic.datasets.SHD, "download", refuse)
    to_frame = T.ToFrame(sensor_size=tonic.datasets.SHD.sensor_size, time_window=1000)
    theirs = EventFrames(tonic.datasets.SHD(str(tmp_path), transform=to_frame))
    ours = EventFrames(SHD(tmp_path), time_window=1000)
    for i in range(2):
        (a, la), (b, lb) = ours[i], theirs[i]
        assert int(la) == int(lb) and a.shape[1:] == b.shape[1:] == (1, 700)
        assert torch.equal(a[: len(b)], b)
    # Our own framing by hand: sample 0 spans 1.0 to 10.5 ms (float32 µs truncate as Tonic).
    frames = events_to_frames(SHD(tmp_path)[0][0], (700, 1, 1), time_window=1000)
    assert frames.shape == (10, 1, 700) and frames[0, 0, 0] == 1 and frames[9, 0, 699] == 1
