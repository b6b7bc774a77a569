"""Text–motion metrics on evaluator embeddings: pure functions, numpy arrays in, numbers out.

R-precision and MM Dist compare each text with the motions of its batch; FID, Diversity and MModality
look at the motion embeddings alone. Dataset constants (``emb_scale``, ``divide_by``) are arguments: the
InterHuman protocol uses 6 and 2, Inter-X 1 and 1.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg


def _as_embeddings(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name}: expected (items, dim), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return x


def _as_pairs(text_emb, motion_emb) -> tuple[np.ndarray, np.ndarray]:
    text_emb, motion_emb = _as_embeddings(text_emb, "text_emb"), _as_embeddings(motion_emb, "motion_emb")
    if text_emb.shape != motion_emb.shape:
        raise ValueError(f"text_emb {text_emb.shape} and motion_emb {motion_emb.shape} must pair row by row")
    if len(text_emb) == 0:
        raise ValueError("text_emb and motion_emb are empty")
    return text_emb, motion_emb


def euclidean_distance_matrix(a, b) -> np.ndarray:
    """Pairwise Euclidean distances. a (n, dim), b (m, dim) -> (n, m)."""
    a, b = _as_embeddings(a, "a"), _as_embeddings(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a has {a.shape[1]} dims, b has {b.shape[1]}")
    squared = (a ** 2).sum(1)[:, None] - 2 * a @ b.T + (b ** 2).sum(1)[None, :]
    return np.sqrt(np.maximum(squared, 0.0))  # rounding can push tiny distances below zero


def r_precision(text_emb, motion_emb, top_k: int = 3) -> np.ndarray:
    """Hits of each text's own motion among its k nearest motions of the batch, for k = 1..top_k.

    text_emb, motion_emb: (batch, dim), row i of each is a pair. Returns counts (top_k,) as floats; divide by the
    number of texts for R-precision. Motions at exactly the own motion's distance (identical embeddings, as a
    collapsed model produces) are ranked in random order, counted by expectation: with c motions strictly closer
    and m at the same distance (the own one included), a hit at k counts min(max((k - c) / m, 0), 1). So ties
    neither reward nor punish, and identical embeddings score chance (k / batch). The value depends on the batch
    size (96 on InterHuman, 32 on Inter-X).
    """
    text_emb, motion_emb = _as_pairs(text_emb, motion_emb)
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    distances = euclidean_distance_matrix(text_emb, motion_emb)
    own = np.diag(distances)[:, None]
    closer = (distances < own).sum(axis=1)[:, None]  # (text, 1)
    tied = (distances == own).sum(axis=1)[:, None]  # the own motion included, so >= 1
    k = np.arange(1, top_k + 1)[None, :]
    return np.clip((k - closer) / tied, 0.0, 1.0).sum(axis=0)


def matching_score(text_emb, motion_emb) -> float:
    """MM Dist: mean Euclidean distance between paired text and motion embeddings."""
    text_emb, motion_emb = _as_pairs(text_emb, motion_emb)
    return float(np.linalg.norm(text_emb - motion_emb, axis=1).mean())


def own_caption_preferred(motion_emb, own_emb, changed_emb) -> int:
    """How many motions score their own caption above the same caption changed in one detail (its twin): rows of
    (pairs, dim) aligned, compared by cosine similarity, the evaluator's matching."""
    motion = _as_embeddings(motion_emb, "motion_emb")
    own, changed = _as_embeddings(own_emb, "own_emb"), _as_embeddings(changed_emb, "changed_emb")
    if not motion.shape == own.shape == changed.shape:
        raise ValueError(f"motion_emb {motion.shape}, own_emb {own.shape} and changed_emb {changed.shape} must pair "
                         f"row by row")

    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    motion = unit(motion)
    return int(((motion * unit(own)).sum(1) > (motion * unit(changed)).sum(1)).sum())


def activation_statistics(emb) -> tuple[np.ndarray, np.ndarray]:
    """Mean (dim,) and covariance (dim, dim) of embeddings (items, dim)."""
    emb = _as_embeddings(emb, "emb")
    if len(emb) < 2:
        raise ValueError(f"activation statistics need at least 2 embeddings, got {len(emb)}")
    return emb.mean(axis=0), np.cov(emb, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussians: ‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½).

    When the matrix square root is not finite (singular product), εI is added to both covariances.
    Only the real part of the square root is kept.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    dim = mu1.shape[0]
    if mu2.shape != (dim,) or sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise ValueError(f"shapes disagree: mu1 {mu1.shape}, mu2 {mu2.shape}, "
                         f"sigma1 {sigma1.shape}, sigma2 {sigma2.shape}")
    with warnings.catch_warnings():
        # singular products are expected (fewer items than dimensions); the fallback below handles them
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = np.eye(dim) * eps
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def _draw_pairs(rng: np.random.Generator, population: int, num_pairs: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Two index sets of ``num_pairs``, each drawn without replacement from ``range(population)``."""
    if num_pairs < 1:
        raise ValueError(f"{what}: num_pairs must be >= 1, got {num_pairs}")
    if population < num_pairs:
        raise ValueError(f"{what} draws {num_pairs} indices without replacement but has only {population} "
                         "embeddings; evaluate more items or lower num_pairs")
    return rng.choice(population, num_pairs, replace=False), rng.choice(population, num_pairs, replace=False)


def diversity(emb, num_pairs: int = 300, rng: np.random.Generator | None = None,
              emb_scale: float = 1.0, divide_by: float = 1.0) -> float:
    """Mean of ‖emb_scale·(a − b)‖ / divide_by over ``num_pairs`` random pairs of embeddings (items, dim).

    Needs at least ``num_pairs`` embeddings (each index set is drawn without replacement); a pair may
    join an item with itself, as in the reference protocol.
    """
    emb = _as_embeddings(emb, "emb")
    rng = np.random.default_rng() if rng is None else rng
    first, second = _draw_pairs(rng, len(emb), num_pairs, "diversity")
    return float(np.linalg.norm(emb_scale * (emb[first] - emb[second]), axis=1).mean() / divide_by)


def multimodality(emb, num_pairs: int = 10, rng: np.random.Generator | None = None,
                  emb_scale: float = 1.0, divide_by: float = 1.0) -> float:
    """Mean distance between motions generated for the same text, scaled like ``diversity``.

    emb: (text, sample, dim). One draw of ``num_pairs`` sample pairs is shared by all texts.
    """
    emb = np.asarray(emb, dtype=np.float64)
    if emb.ndim != 3:
        raise ValueError(f"emb: expected (text, sample, dim), got shape {emb.shape}")
    if not np.isfinite(emb).all():
        raise ValueError("emb: contains NaN or infinite values")
    rng = np.random.default_rng() if rng is None else rng
    first, second = _draw_pairs(rng, emb.shape[1], num_pairs, "multimodality")
    return float(np.linalg.norm(emb_scale * (emb[:, first] - emb[:, second]), axis=2).mean() / divide_by)


def mean_confidence_interval(values) -> tuple[float, float]:
    """(mean, 1.96·σ/√n) with the population σ (ddof 0): the 95% interval over replications."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("mean_confidence_interval: no values")
    return float(values.mean()), float(1.96 * values.std() / np.sqrt(values.size))
