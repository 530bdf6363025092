"""Small data sets for the lessons and demos, seeded and without scikit-learn.

- ``make_moons``: two interleaving half circles (scikit-learn's geometry);
  labels {0, 1} by default as scikit-learn, or {-1, +1} with ``labels='pm1'``
  (micrograd's demo uses ``y*2 - 1`` for its hinge loss).
- ``make_blobs``: Gaussian clusters around random centres.
- ``make_house_prices``: a synthetic housing table for a linear-regression
  lesson, with named features and the true weights that generated the prices.
- ``load_digits``: the UCI 8x8 hand-written digits (1797 images) shipped as
  ``micrograd/data/digits.npz`` (see ``micrograd/data/DIGITS_LICENSE.md``).
- ``train_test_split``.

Randomness is explicit: every ``rng`` argument is an int seed, a
``numpy.random.Generator``, or None (a fresh, unseeded generator).
Arrays are float64; class labels are int64.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

RngLike = None | int | np.random.Generator
_DIGITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "digits.npz")


def _generator(rng: RngLike) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be None, an int seed or a numpy Generator, got {rng!r}")


def _labels(y01: np.ndarray, labels: str) -> np.ndarray:
    if labels == "01":
        return y01
    if labels == "pm1":
        return y01 * 2 - 1
    raise ValueError(f"labels must be '01' or 'pm1', got {labels!r}")


def make_moons(
    n_samples: int = 100, noise: float = 0.1, rng: RngLike = None, labels: str = "01"
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: X (n, 2) float64, y (n,) int in {0,1} (or {-1,+1} with labels='pm1').

    The first half circle (centre (0, 0), upper) is class 0, the second (centre
    (1, 0.5), lower) class 1; points are shuffled, then Gaussian noise of std
    ``noise`` is added, as in scikit-learn (the random draws differ).
    """
    g = _generator(rng)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    X = np.empty((n_samples, 2))
    X[:n_out, 0], X[:n_out, 1] = np.cos(t_out), np.sin(t_out)
    X[n_out:, 0], X[n_out:, 1] = 1.0 - np.cos(t_in), 1.0 - np.sin(t_in) - 0.5
    y = np.concatenate([np.zeros(n_out, dtype=np.int64), np.ones(n_in, dtype=np.int64)])
    order = g.permutation(n_samples)
    X, y = X[order], y[order]
    if noise:
        X += g.normal(scale=noise, size=X.shape)
    return X, _labels(y, labels)


def make_blobs(
    n_samples: int = 100,
    centers: int = 3,
    n_features: int = 2,
    cluster_std: float = 1.0,
    center_box: tuple[float, float] = (-10.0, 10.0),
    rng: RngLike = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters: X (n, n_features) float64, y (n,) int class in [0, centers).

    Centres are drawn uniformly in ``center_box``; samples are split as evenly
    as possible between clusters and shuffled.
    """
    g = _generator(rng)
    c = g.uniform(center_box[0], center_box[1], size=(centers, n_features))
    y = np.arange(n_samples, dtype=np.int64) % centers
    g.shuffle(y)
    X = c[y] + g.normal(scale=cluster_std, size=(n_samples, n_features))
    return X, y


# name, typical value, spread, price per unit (in thousands): the generating linear model
_HOUSE = [
    ("area_m2", 110.0, 35.0, 2.0),
    ("age_years", 30.0, 18.0, -1.2),
    ("rooms", 4.0, 1.3, 8.0),
    ("bathrooms", 1.6, 0.7, 12.0),
    ("distance_km", 8.0, 5.0, -6.0),
    ("lot_m2", 400.0, 200.0, 0.05),
    ("floor", 2.0, 1.8, 1.5),
    ("garage", 0.5, 0.5, 15.0),
    ("school_rating", 6.0, 2.0, 7.0),
    ("crime_rate", 3.0, 1.5, -9.0),
]


class HousePrices(NamedTuple):
    X: np.ndarray  # (n, n_features) float64, raw units (standardize before gradient descent)
    y: np.ndarray  # (n,) price in thousands
    names: list[str]  # feature names, e.g. 'area_m2', 'age_years', 'rooms'
    weights: np.ndarray  # (n_features,) the true price per unit of each feature
    bias: float  # the true intercept
    noise: float  # std of the Gaussian noise added to the prices


def make_house_prices(
    n: int = 200, n_features: int = 10, rng: RngLike = None, noise: float = 10.0, bias: float = 50.0
) -> HousePrices:
    """A synthetic housing set: price = bias + X @ weights + N(0, noise^2), with named features.

    Features are drawn as Gaussians around typical values (counts rounded and
    clipped at zero, 'garage' is 0/1), so a linear regression can recover
    ``weights``; the features use different units, which is the lesson's
    reason to standardize them (``standardize``).
    """
    if not 1 <= n_features <= len(_HOUSE):
        raise ValueError(f"n_features must be in 1..{len(_HOUSE)}, got {n_features}")
    g = _generator(rng)
    rows = _HOUSE[:n_features]
    X = np.empty((n, n_features))
    for j, (name, mean, spread, _) in enumerate(rows):
        if name == "garage":
            X[:, j] = g.random(n) < mean
        else:
            col = np.maximum(g.normal(mean, spread, n), 0.0)
            X[:, j] = np.round(col) if name in ("rooms", "bathrooms", "floor") else col
    w = np.array([r[3] for r in rows])
    y = bias + X @ w + g.normal(scale=noise, size=n)
    return HousePrices(X, y, [r[0] for r in rows], w, float(bias), float(noise))


def standardize(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X - mean) / std per column; returns (Xs, mean, std) so new data can be scaled the same way."""
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std = np.where(std > 0, std, 1.0)  # a constant column stays 0 instead of NaN
    return (X - mean) / std, mean, std


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The UCI 8x8 hand-written digits: X (1797, 64) float64 in [0, 16], y (1797,) int in 0..9.

    Alpaydin & Kaynak, UCI Machine Learning Repository, CC BY 4.0 (the copy
    bundled with scikit-learn); see micrograd/data/DIGITS_LICENSE.md.
    """
    with np.load(_DIGITS) as z:
        return z["X"].astype(np.float64), z["y"].astype(np.int64)


def train_test_split(
    X: np.ndarray, y: np.ndarray, test_fraction: float = 0.25, rng: RngLike = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle and split: (X_train, X_test, y_train, y_test), scikit-learn's order.

    The test set has ``ceil(test_fraction * n)`` rows.
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    n_test = int(np.ceil(test_fraction * len(X)))
    order = _generator(rng).permutation(len(X))
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


__all__ = [
    "make_moons",
    "make_blobs",
    "make_house_prices",
    "HousePrices",
    "standardize",
    "load_digits",
    "train_test_split",
]
