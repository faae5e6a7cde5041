"""Metrics: pure functions of signals, each registered with its compute and its metadata
(:mod:`.spec`), the ones dsnbench ships (:mod:`.builtin`), and the per-utterance suite that
loops over the registrations (:mod:`.suite`).

A module that registers metrics is imported here, once, so that importing ``dsnbench.metrics``
registers every metric. To add one, see "Adding a metric" in the README.
"""
from __future__ import annotations

from . import builtin  # noqa: F401  (registers the shipped metrics and the cost column)
from .spec import (COSTS, METRICS, ColumnInfo, MetricSpec, Pairs, column_info, distributions,
                   headline_columns, metric, metric_columns, ordered, register_cost, specs)

__all__ = ["COSTS", "METRICS", "ColumnInfo", "MetricSpec", "Pairs", "column_info", "distributions",
           "headline_columns", "metric", "metric_columns", "ordered", "register_cost", "spec", "specs"]


def spec(name: str) -> MetricSpec:
    return METRICS.get(name)
