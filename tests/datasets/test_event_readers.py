"""N-MNIST, SHD and DVS-Gesture readers on small files written in each format's real layout,
checked by hand and against Tonic's own readers of the same files (no downloads)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikeforge.datasets.events import (
    AUDIO_EVENT_DTYPE,
    NMNIST,
    SHD,
    DVSGesture,
    EventFrames,
    events_to_frames,
    read_nmnist_bin,
)

h5py = pytest.importorskip("h5py")


def _no_download(monkeypatch, cls) -> None:
    """Tonic downloads when it finds no files: make that an error, never a network call."""

    def refuse(self):
        raise AssertionError(f"Tonic's {cls.__name__} tried to download")

    monkeypatch.setattr(cls, "download", refuse)


# -- SHD -----------------------------------------------------------------------------------------

# Spike times in seconds (exact binary fractions, so µs are exact), channels, labels.
SHD_SAMPLES = [
    ([0.125, 0.25, 0.5], [3, 699, 0], 7),
    ([0.0625], [42], 19),
    ([0.5, 0.5, 0.75, 0.875], [1, 2, 1, 1], 0),
]


def _write_shd(path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (len(SHD_SAMPLES),), h5py.vlen_dtype(np.float16))
        units = f.create_dataset("spikes/units", (len(SHD_SAMPLES),), h5py.vlen_dtype(np.uint16))
        for i, (t, u, _) in enumerate(SHD_SAMPLES):
            times[i] = np.array(t, dtype=np.float16)
            units[i] = np.array(u, dtype=np.uint16)
        f.create_dataset("labels", data=np.array([s[2] for s in SHD_SAMPLES], dtype=np.uint16))
        f.create_dataset("extra/keys", data=np.array([b"digit"] * 20))
        f.create_dataset("extra/speaker", data=np.zeros(len(SHD_SAMPLES), dtype=np.uint16))


def test_shd_reader_decodes_the_hdf5_layout(tmp_path):
    _write_shd(tmp_path / "SHD" / "shd_train.h5")
    ds = SHD(tmp_path)
    assert len(ds) == 3 and ds.sensor_size == (700, 1, 1)
    events, label = ds[0]
    assert events.dtype == AUDIO_EVENT_DTYPE and label == 7
    assert events["t"].tolist() == [125_000, 250_000, 500_000]
    assert events["x"].tolist() == [3, 699, 0] and events["p"].tolist() == [1, 1, 1]
    # Frames [T, P=1, 700]: 250 ms bins put t = 125 ms in bin 0, 250 and 500 ms in 1 and 2.
    frames = events_to_frames(events, ds.sensor_size, time_window=125_000, start_time=0)
    assert frames.shape == (5, 1, 700)
    assert frames[1, 0, 3] == 1 and frames[2, 0, 699] == 1 and frames[4, 0, 0] == 1
    assert frames.sum() == 3
    with pytest.raises(FileNotFoundError, match=r"shd_test\.h5"):
        SHD(tmp_path, train=False)


def test_shd_reader_matches_tonic(tmp_path, monkeypatch):
    tonic = pytest.importorskip("tonic")
    _write_shd(tmp_path / "SHD" / "shd_train.h5")
    (tmp_path / "SHD" / "shd_train.h5.zip").write_bytes(b"")  # what Tonic checks is there
    _no_download(monkeypatch, tonic.datasets.SHD)
    theirs = tonic.datasets.SHD(str(tmp_path), train=True)
    ours = SHD(tmp_path)
    assert len(theirs) == len(ours)
    for i in range(len(ours)):
        (a, la), (b, lb) = ours[i], theirs[i]
        assert int(la) == int(lb)
        for field in ("t", "x", "p"):
            np.testing.assert_array_equal(a[field], b[field])


# -- DVS-Gesture ---------------------------------------------------------------------------------


def _write_gesture(folder, sessions: int = 10, labels: int = 10, seed: int = 0) -> dict:
    """``folder/user<NN>_<light>/<label>.npy`` files of ``[N, 4]`` rows ``x, y, p, t(ms)``."""
    rng = np.random.default_rng(seed)
    written = {}
    for s in range(sessions):
        session = folder / f"user{s + 1:02d}_{'led' if s % 2 else 'fluorescent'}"
        session.mkdir(parents=True)
        for label in range(labels):
            n = int(rng.integers(3, 12))
            rows = np.stack(
                [rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n),
                 np.sort(rng.integers(0, 500, n))],
                axis=1,
            ).astype(np.float64)  # fmt: skip
            np.save(session / f"{label}.npy", rows)
            written[(s + 1, label)] = rows
    return written


def test_dvs_gesture_reader_decodes_the_npy_layout(tmp_path):
    session = tmp_path / "DVSGesture" / "ibmGestureTrain" / "user03_natural"
    session.mkdir(parents=True)
    np.save(session / "4.npy", np.array([[5, 7, 1, 2], [127, 0, 0, 15]], dtype=np.float64))
    np.save(session / "10.npy", np.array([[1, 1, 1, 0]], dtype=np.float64))
    ds = DVSGesture(tmp_path)
    assert len(ds) == 2 and ds.sensor_size == (128, 128, 2)
    assert ds.users == [3, 3] and ds.lighting == ["natural", "natural"]
    four = [p.name for p, _ in ds.files].index("4.npy")
    events, label = ds[four]
    assert label == 4
    assert events["x"].tolist() == [5, 127] and events["y"].tolist() == [7, 0]
    assert events["p"].tolist() == [1, 0] and events["t"].tolist() == [2000, 15000]
    frames = EventFrames(ds, time_window=10_000)[four][0]
    assert frames.shape[1:] == (2, 128, 128) and frames.sum() == 2
    with pytest.raises(FileNotFoundError, match="ibmGestureTest"):
        DVSGesture(tmp_path, train=False)


def test_dvs_gesture_reader_matches_tonic(tmp_path, monkeypatch):
    tonic = pytest.importorskip("tonic")
    base = tmp_path / "DVSGesture"
    _write_gesture(base / "ibmGestureTrain")  # Tonic wants at least 100 files
    (base / "ibmGestureTrain.tar.gz").write_bytes(b"")
    _no_download(monkeypatch, tonic.datasets.DVSGesture)
    theirs = tonic.datasets.DVSGesture(str(tmp_path), train=True)
    ours = DVSGesture(tmp_path)
    assert len(ours) == len(theirs) == 100
    their_index = {path: i for i, path in enumerate(theirs.data)}
    for i, (path, label) in enumerate(ours.files):
        a, la = ours[i]
        b, lb = theirs[their_index[str(path)]]
        assert la == lb == label
        for field in ("x", "y", "t", "p"):
            np.testing.assert_array_equal(a[field].astype(np.int64), b[field].astype(np.int64))


# -- N-MNIST against Tonic's reader ----------------------------------------------------------------


def test_nmnist_reader_matches_tonics_bin_reader(tmp_path):
    tonic = pytest.importorskip("tonic")
    # x=5, y=7, p=1, t=0x012345; an overflow marker (y=240); x=1, y=2, p=0, t=10 (+2**13).
    raw = bytes([5, 7, 0x80 | 0x01, 0x23, 0x45, 0, 240, 0, 0, 0, 1, 2, 0x00, 0x00, 0x0A])
    path = tmp_path / "Train" / "3" / "00001.bin"
    path.parent.mkdir(parents=True)
    path.write_bytes(raw)
    ours = read_nmnist_bin(path)
    theirs = tonic.io.read_mnist_file(str(path), dtype=tonic.datasets.NMNIST.dtype)
    for field in ("x", "y", "t", "p"):
        np.testing.assert_array_equal(ours[field].astype(np.int64), theirs[field])
    (events, label) = NMNIST(tmp_path)[0]
    assert label == 3 and torch.equal(
        events_to_frames(events, NMNIST.sensor_size, num_steps=2).sum((0, 1)).nonzero(),
        torch.tensor([[2, 1], [7, 5]]),
    )
