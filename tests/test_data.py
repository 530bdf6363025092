"""data: seeded synthetic sets with known geometry or generating weights, the bundled digits, splitting."""

import numpy as np
import pytest

from micrograd import data


def test_make_moons_geometry_labels_and_seeds():
    X, y = data.make_moons(200, noise=0.0, rng=3)
    assert X.shape == (200, 2) and X.dtype == np.float64 and sorted(set(y)) == [0, 1] and y.sum() == 100
    upper, lower = X[y == 0], X[y == 1]
    assert np.allclose(np.hypot(*upper.T), 1.0) and (upper[:, 1] >= -1e-12).all()
    assert np.allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0) and (lower[:, 1] <= 0.5 + 1e-12).all()
    a, b = data.make_moons(50, rng=1), data.make_moons(50, rng=np.random.default_rng(1))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], data.make_moons(50, rng=2)[0])
    _, ypm = data.make_moons(50, rng=1, labels="pm1")
    assert np.array_equal(ypm, a[1] * 2 - 1)
    noisy, _ = data.make_moons(2000, noise=0.1, rng=0)
    clean, _ = data.make_moons(2000, noise=0.0, rng=0)
    assert abs(np.std(noisy - clean) - 0.1) < 0.005
    with pytest.raises(ValueError, match="labels"):
        data.make_moons(10, labels="bool")


def test_make_blobs_clusters():
    X, y = data.make_blobs(3000, centers=4, n_features=3, cluster_std=0.5, rng=0)
    assert X.shape == (3000, 3) and sorted(set(y)) == [0, 1, 2, 3] and np.bincount(y).tolist() == [750] * 4
    for k in range(4):
        assert abs(X[y == k].std(axis=0).mean() - 0.5) < 0.03


def test_house_prices_least_squares_recovers_the_true_weights():
    h = data.make_house_prices(4000, rng=0, noise=1.0)
    assert h.X.shape == (4000, 10) and h.names[:3] == ["area_m2", "age_years", "rooms"]
    A = np.column_stack([h.X, np.ones(len(h.X))])
    coef, *_ = np.linalg.lstsq(A, h.y, rcond=None)
    assert np.allclose(coef[:-1], h.weights, rtol=0.05, atol=0.02) and abs(coef[-1] - h.bias) < 2.0
    Xs, mean, std = data.standardize(h.X)
    assert np.allclose(Xs.mean(axis=0), 0, atol=1e-12) and np.allclose(Xs.std(axis=0), 1)
    assert data.make_house_prices(10, n_features=3, rng=1).X.shape == (10, 3)
    with pytest.raises(ValueError, match="n_features"):
        data.make_house_prices(10, n_features=11)


def test_load_digits_is_the_uci_set():
    X, y = data.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 16.0
    # class counts and pixel total of scikit-learn's bundled copy (sklearn 1.9.1, read when building the file)
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert X.sum() == 561718.0 and y[:10].tolist() == list(range(10))


def test_train_test_split_partitions():
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    Xtr, Xte, ytr, yte = data.train_test_split(X, y, test_fraction=0.3, rng=0)
    assert len(Xte) == 3 and len(Xtr) == 7
    assert sorted(np.concatenate([ytr, yte]).tolist()) == list(range(10))
    assert np.array_equal(Xtr[:, 0], ytr * 2.0) and np.array_equal(Xte[:, 0], yte * 2.0)
    again = data.train_test_split(X, y, test_fraction=0.3, rng=0)
    assert np.array_equal(again[3], yte)
    with pytest.raises(ValueError, match="rows"):
        data.train_test_split(X, y[:5])
