"""Event data: N-MNIST's binary format, framing, Tonic-style adaptor, synthetic events."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from spikeforge.datasets.events import (
    EVENT_DTYPE,
    NMNIST,
    EventFrames,
    SyntheticEvents,
    collate_frames,
    events_to_frames,
    read_nmnist_bin,
    write_nmnist_bin,
)


def _events(rows) -> np.ndarray:
    return np.array(rows, dtype=EVENT_DTYPE)


def test_nmnist_bytes_decode_by_hand(tmp_path):
    # x=5, y=7, p=1, t=0x012345; then an overflow marker (y=240); then x=1, y=2, p=0, t=10.
    raw = bytes([5, 7, 0x80 | 0x01, 0x23, 0x45, 0, 240, 0, 0, 0, 1, 2, 0x00, 0x00, 0x0A])
    path = tmp_path / "Train" / "3" / "00001.bin"
    path.parent.mkdir(parents=True)
    path.write_bytes(raw)
    events = read_nmnist_bin(path)
    assert events["x"].tolist() == [5, 1] and events["y"].tolist() == [7, 2]
    assert events["p"].tolist() == [1, 0]
    assert events["t"].tolist() == [0x012345, 10 + 2**13]


def test_nmnist_folder_round_trip_with_synthetic_streams(tmp_path):
    synthetic = SyntheticEvents(num_samples=6, num_classes=3, sensor_size=(34, 34, 2), seed=3)
    for i in range(len(synthetic)):
        events, label = synthetic[i]
        write_nmnist_bin(tmp_path / "NMNIST" / "Train" / str(label) / f"{i:05d}.bin", events)
    write_nmnist_bin(tmp_path / "NMNIST" / "Test" / "9" / "00000.bin", synthetic[0][0])
    train = NMNIST(tmp_path, train=True)
    assert len(train) == 6 and len(NMNIST(tmp_path, train=False)) == 1
    assert NMNIST.sensor_size == (34, 34, 2)
    by_name = {p.name: (p, label) for p, label in train.files}
    for i in range(6):
        events, label = synthetic[i]
        path, stored_label = by_name[f"{i:05d}.bin"]
        assert stored_label == label
        got, got_label = train[train.files.index((path, stored_label))]
        assert got_label == label
        for field in ("x", "y", "t", "p"):
            np.testing.assert_array_equal(got[field], events[field])
    with pytest.raises(FileNotFoundError, match="does not"):
        NMNIST(tmp_path / "missing")


def test_first_saccade_only_keeps_the_first_100_ms(tmp_path):
    write_nmnist_bin(tmp_path / "Test" / "1" / "a.bin", _events([(0, 0, 5, 1), (1, 1, 150_000, 0)]))
    events, _ = NMNIST(tmp_path, train=False, first_saccade_only=True)[0]
    assert events["t"].tolist() == [5]


def test_frames_count_events_per_bin_channel_and_pixel():
    events = _events([(0, 0, 100, 1), (0, 0, 150, 1), (2, 1, 300, 0), (1, 0, 500, 1)])
    frames = events_to_frames(events, (3, 2, 2), num_steps=2)  # bins [100, 300), [300, 500]
    assert frames.shape == (2, 2, 2, 3)
    assert frames[0, 1, 0, 0] == 2 and frames[1, 0, 1, 2] == 1 and frames[1, 1, 0, 1] == 1
    assert frames.sum() == 4
    windows = events_to_frames(events, (3, 2, 2), time_window=150)  # 100-250, 250-400, 400-550
    assert windows.shape[0] == 3 and windows.sum(dim=(1, 2, 3)).tolist() == [2.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="exactly one"):
        events_to_frames(events, (3, 2, 2))
    with pytest.raises(ValueError, match="outside sensor_size"):
        events_to_frames(events, (2, 2, 2), num_steps=2)
    with pytest.raises(TypeError, match="fields x, y, t, p"):
        events_to_frames(np.zeros((3, 4)), (3, 2, 2), num_steps=2)


class _TonicStyleDataset:
    """What a Tonic dataset looks like: ds[i] -> (events, target), .sensor_size (W, H, P)."""

    sensor_size = (4, 3, 2)

    def __len__(self):
        return 3

    def __getitem__(self, i):
        rows = [(i, 0, 10 * k, k % 2) for k in range(i + 2)]
        return _events(rows), i


def _drop_polarity_zero(events):  # a Tonic-style transform: events in, events out
    return events[events["p"] == 1]


def test_adaptor_batches_tonic_style_data_time_major():
    data = EventFrames(_TonicStyleDataset(), time_window=10, transform=_drop_polarity_zero)
    loader = DataLoader(data, batch_size=3, collate_fn=collate_frames)
    frames, labels = next(iter(loader))
    # Sample i keeps its odd-k events (p = 1): i=0 → t=10 (bins from t0=10: 1 bin);
    # i=1 → t=10; i=2 → t=10, 30 → bins 0 and 2: T = 3, shorter samples padded.
    assert frames.shape == (3, 3, 2, 3, 4)
    assert labels.tolist() == [0, 1, 2]
    assert frames[:, :, 1].sum(dim=(2, 3)).T.tolist() == [[1, 0, 0], [1, 0, 0], [1, 0, 1]]
    assert frames[:, :, 0].sum() == 0


def test_adaptor_passes_frames_from_a_frame_transform_through():
    def to_frame(events):  # like tonic.transforms.ToFrame: returns [T, P, H, W] numbers
        return np.ones((2, 2, 3, 4), dtype=np.int16)

    frames, label = EventFrames(_TonicStyleDataset(), transform=to_frame)[1]
    assert frames.dtype == torch.float32 and frames.shape == (2, 2, 3, 4) and label == 1


def test_synthetic_events_are_reproducible_and_class_dependent():
    data = SyntheticEvents(num_samples=8, num_classes=4, sensor_size=(32, 32, 2), seed=1)
    a, label = data[5]
    b, _ = SyntheticEvents(num_samples=8, num_classes=4, sensor_size=(32, 32, 2), seed=1)[5]
    np.testing.assert_array_equal(a, b)
    assert label == 1 and a.dtype == EVENT_DTYPE and np.all(np.diff(a["t"]) >= 0)
    clean, _ = SyntheticEvents(num_samples=8, num_classes=4, noise_rate=0.0, seed=1)[5]
    on, off = clean[clean["p"] == 1], clean[clean["p"] == 0]
    # Class 1 of 4 moves the dot at 90°: one ON event per new row (+y), x fixed, and an OFF
    # event at each row it leaves; it starts near y = 16 and stops at the edge (31).
    assert np.all(np.diff(on["y"]) == 1) and np.all(on["x"] == on["x"][0])
    assert on["y"][-1] == 31 and len(off) == len(on) - 1
    assert len(a) > len(clean)  # the noise events
    frames, labels = collate_frames([EventFrames(data, num_steps=10)[i] for i in range(4)])
    assert frames.shape == (10, 4, 2, 32, 32) and labels.tolist() == [0, 1, 2, 3]
