"""Evidently's drift scores on every row of a window, streamed in chunks with memory that does not grow.

The sampled decision (monitoring/drift_compute.py) is remade on all rows when its score is near
the threshold. Holding every value of a 10M-row window costs gigabytes, so each column's score is
accumulated chunk by chunk against the reference, with the formulas Evidently's stat tests use
(evidently/legacy/calculations/stattests): NaN and infinities dropped first, then

- numbers: ``scipy.stats.wasserstein_distance(reference, current) / max(std(reference), 0.001)``.
  W1 is the area between the two CDFs. Between two consecutive distinct reference values the
  reference CDF is a constant, so the area over that gap needs only how many current values fall
  in it, how many fall before it and the sum of their distances to the gap's end: a few numbers
  per distinct reference value (the reference is a bounded snapshot), whatever the window size.
  Only a gap where the current CDF crosses the reference's level needs the values' order inside
  it: a second pass keeps just the values of those gaps (see ``StreamingWasserstein``).
- categories: ``scipy.spatial.distance.jensenshannon`` of the category counts (counts add up).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from scipy.spatial import distance

NORM_FLOOR = 0.001  # Evidently's floor for the reference's standard deviation
MAX_CROSSING_VALUES = 2_000_000  # values kept by pass 2 per column (16 MB)


def _finite(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_float_dtype(values.dtype) or pd.api.types.is_integer_dtype(values.dtype):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
    else:  # text or mixed, as a log can hold: what does not parse as a number is dropped
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return numbers[np.isfinite(numbers)]


class StreamingWasserstein:
    """Wasserstein distance of a streamed column against a reference column, normed by its std.

    Pass 1 (``add``) keeps per gap between distinct reference values: how many current values fall
    in it, how many equal its start, and the sum of their distances to its end. That decides the
    area over every gap the current CDF does not cross. Pass 2 (``add_crossing``, only when
    ``crossed_gaps`` is not empty) keeps the values inside crossed gaps, which a few per thousand of
    the window fall into, up to ``max_values``; beyond that the crossed gaps are estimated with their
    values at their mean and ``result`` names the bound on the error.
    """

    def __init__(self, reference: pd.Series, max_values: int = MAX_CROSSING_VALUES):
        values = _finite(reference)
        if not len(values):
            raise ValueError("the reference column has no finite values")
        self.norm = max(float(np.std(values)), NORM_FLOOR)
        self.points, counts = np.unique(values, return_counts=True)
        self.level = np.cumsum(counts) / len(values)  # reference CDF on [points[j], points[j + 1])
        gaps = len(self.points) + 1  # gap 0: below the reference; gap j + 1: from points[j] on
        self.count, self.at_start, self.distance = np.zeros(gaps), np.zeros(gaps), np.zeros(gaps)
        self.rows = 0
        self.max_values = max_values
        self.crossing: list[tuple[np.ndarray, np.ndarray]] = []  # (gap, value) pairs of pass 2
        self.kept = 0

    def _gaps(self, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        # Sorted first: numpy's binary search starts from the previous key's position, and sums do
        # not depend on the order.
        current = np.sort(_finite(values))
        return current, np.searchsorted(self.points, current, side="right")

    def add(self, values: pd.Series) -> None:
        current, gap = self._gaps(values)
        size = len(self.count)
        self.count += np.bincount(gap, minlength=size)
        starts = self.points[np.maximum(gap - 1, 0)]
        self.at_start += np.bincount(gap, weights=(gap > 0) & (current == starts), minlength=size)
        self.distance += np.bincount(gap, weights=self._distances(current, gap), minlength=size)
        self.rows += len(current)

    def _distances(self, current: np.ndarray, gap: np.ndarray) -> np.ndarray:
        # Below the reference: distance up to its first point; at or above the last point: distance
        # from it; in between: distance up to the gap's right end. All non-negative: no cancellation.
        right = np.append(self.points, self.points[-1])[gap]
        left = self.points[np.maximum(gap - 1, 0)]
        inner = np.where(gap == 0, self.points[0] - current, right - current)
        return np.where(gap == len(self.points), current - left, inner)

    def _inner(self) -> tuple[np.ndarray, ...]:
        """Per inner gap: length, reference level, current CDF at its start (before, at) and end."""
        m = self.rows
        lengths = np.diff(self.points)
        before = np.cumsum(self.count)[:-2] / m
        return lengths, self.level[:-1], before, before + self.at_start[1:-1] / m, before + self.count[1:-1] / m

    def crossed_gaps(self) -> np.ndarray:
        """Gap numbers (as ``searchsorted`` gives them) where the current CDF crosses the reference's."""
        if not self.rows:
            return np.array([], dtype=int)
        _, level, _, start, end = self._inner()
        return np.flatnonzero((start < level) & (end > level)) + 1

    def add_crossing(self, values: pd.Series, crossed: np.ndarray) -> None:
        if self.kept > self.max_values:
            return
        current = _finite(values)
        # Inside a crossed gap [points[g - 1], points[g]) means an odd position among their edges:
        # a search in a few edges, not in every reference point.
        edges = np.column_stack([self.points[crossed - 1], self.points[crossed]]).ravel()
        inside = np.searchsorted(edges, current, side="right") % 2 == 1
        current = current[inside]
        self.crossing.append((np.searchsorted(self.points, current, side="right"), current))
        self.kept += len(current)

    def result(self) -> tuple[float, float]:
        """The normed distance and a bound on its error (0 when every gap was decided exactly)."""
        if not self.rows:
            raise ValueError("no finite current values")
        m = self.rows
        below = self.distance[0] / m  # area of the current CDF before the reference starts
        above = self.distance[-1] / m  # area between 1 and the current CDF after it ends
        lengths, level, before, start, end = self._inner()
        inner_count, inner_distance = self.count[1:-1], self.distance[1:-1]
        area_cdf = before * lengths + inner_distance / m  # integral of the current CDF over the gap
        area = np.where(end <= level, level * lengths - area_cdf, area_cdf - level * lengths)
        crossed = (start < level) & (end > level)
        error = 0.0
        if crossed.any():
            if self.crossing and self.kept <= self.max_values:
                area = np.where(crossed, 0.0, area)
                exact = self._crossed_areas(lengths, level, before)
            else:  # values placed at their gap's mean: off by at most the gap's length times its share
                mean_offset = lengths - np.divide(inner_distance, inner_count, out=np.zeros_like(lengths),
                                                  where=inner_count > 0)
                estimate = np.abs(level - before) * mean_offset + np.abs(level - end) * (lengths - mean_offset)
                area = np.where(crossed, estimate, area)
                exact, error = 0.0, float(np.sum(np.where(crossed, lengths * inner_count / m, 0.0)))
        else:
            exact = 0.0
        return float(below + above + area.sum() + exact) / self.norm, error / self.norm

    def _crossed_areas(self, lengths: np.ndarray, level: np.ndarray, before: np.ndarray) -> float:
        """The exact area over the crossed gaps from their sorted values (pass 2)."""
        m = self.rows
        gap = np.concatenate([g for g, _ in self.crossing])
        values = np.concatenate([v for _, v in self.crossing])
        order = np.lexsort((values, gap))
        gap, values = gap[order], values[order]
        inner = gap - 1  # index into the per-inner-gap arrays
        first = np.r_[True, gap[1:] != gap[:-1]]
        rank = np.arange(len(gap)) - np.maximum.accumulate(np.where(first, np.arange(len(gap)), 0))
        ends = self.points[inner] + lengths[inner]
        following = np.where(np.r_[gap[1:] == gap[:-1], False], np.r_[values[1:], 0.0], ends)
        # From each value to the next (or the gap's end) the current CDF is before + (rank + 1) / m;
        # from the gap's start to its first value it is ``before``.
        steps = np.abs(level[inner] - (before[inner] + (rank + 1) / m)) * (following - values)
        heads = np.abs(level[inner] - before[inner]) * (values - self.points[inner])
        return float(steps.sum() + heads[first].sum())


class StreamingJensenShannon:
    """Jensen-Shannon distance of a streamed categorical column against a reference column."""

    def __init__(self, reference: pd.Series):
        self.reference = Counter(_categories(reference))
        if not self.reference:
            raise ValueError("the reference column has no values")
        self.current: Counter = Counter()

    def add(self, values: pd.Series) -> None:
        self.current.update(_categories(values))

    def result(self) -> tuple[float, float]:
        if not self.current:
            raise ValueError("no current values")
        keys = list(self.reference.keys() | self.current.keys())
        reference = np.array([self.reference[k] for k in keys], dtype=float) / sum(self.reference.values())
        current = np.array([self.current[k] for k in keys], dtype=float) / sum(self.current.values())
        return float(distance.jensenshannon(reference, current)), 0.0


def _categories(values: pd.Series) -> dict:
    # As drift_compute._prepared: categories compared as text, so 3 and "3" are one category.
    text = values[values.notna()].astype("string")
    return text.value_counts(sort=False).to_dict()


def exact_scores(reference: pd.DataFrame, read: Callable[[list[str]], Iterable[pd.DataFrame]],
                 numerical: list[str], categorical: list[str],
                 thresholds: dict[str, float] | None = None) -> dict[str, tuple[float, float]]:
    """Column -> (score on every row ``read(columns)`` streams, error bound); empty columns left out.

    ``read`` is called once for all columns, and once more for the numerical columns whose CDFs
    cross, unless ``thresholds`` are given and the one-pass estimate is already farther from its
    column's threshold than its error bound: the decision is then certain, and the score is
    Evidently's within that bound.
    """
    streams = {c: StreamingWasserstein(reference[c]) for c in numerical}
    streams |= {c: StreamingJensenShannon(reference[c]) for c in categorical}
    for chunk in read([*numerical, *categorical]):
        for column, stream in streams.items():
            if column in chunk.columns:
                stream.add(chunk[column])
    crossed = {c: gaps for c in numerical if streams[c].rows and len(gaps := streams[c].crossed_gaps())
               and not _certain(streams[c], (thresholds or {}).get(c))}
    if crossed:
        for chunk in read(list(crossed)):
            for column, gaps in crossed.items():
                if column in chunk.columns:
                    streams[column].add_crossing(chunk[column], gaps)
    scores = {}
    for column, stream in streams.items():
        try:
            scores[column] = stream.result()
        except ValueError:
            continue
    return scores


def _certain(stream: StreamingWasserstein, threshold: float | None) -> bool:
    if threshold is None:
        return False
    score, error = stream.result()
    return abs(score - threshold) > error
