"""Evaluation metrics: text–motion metrics on evaluator embeddings, physical metrics on joints, and the
protocol (replications, seeds, confidence intervals) that composes them."""
from .physical import (
    COLLIDERS,
    PHYSICAL_KEYS,
    PhysicalMetrics,
    bone_length_drift,
    floor_penetration,
    foot_skating,
    interpenetration,
    jitter,
    physical_metrics,
)
from .protocol import EvalBatch, ProtocolConfig, evaluate, format_table, metric_names, results_to_json
from .text_motion import (
    activation_statistics,
    diversity,
    euclidean_distance_matrix,
    frechet_distance,
    matching_score,
    mean_confidence_interval,
    multimodality,
    r_precision,
)

__all__ = [
    "COLLIDERS", "PHYSICAL_KEYS", "PhysicalMetrics", "bone_length_drift", "floor_penetration", "foot_skating",
    "interpenetration", "jitter", "physical_metrics",
    "EvalBatch", "ProtocolConfig", "evaluate", "format_table", "metric_names", "results_to_json",
    "activation_statistics", "diversity", "euclidean_distance_matrix", "frechet_distance", "matching_score",
    "mean_confidence_interval", "multimodality", "r_precision",
]
