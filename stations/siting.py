"""Where to open the next k stations: the maximal covering location problem (MCLP), greedily.

Pure Python, no database: the selector builds the inputs (which demand points each candidate
site would cover, and each point's weight) and turns the picks into an answer.

Greedy picks, k times, the candidate that adds the most not-yet-covered weight. Coverage is a
monotone submodular set function, so the greedy total is at least (1 − 1/e) ≈ 63.2 % of the
best possible k sites (Nemhauser, Wolsey & Fisher 1978), and usually much closer.

Lazy evaluation (Minoux 1978, "accelerated greedy"; CELF): a candidate's gain can only shrink as
sites are picked (submodularity), so a gain computed in an earlier round is an upper bound. The
candidates wait in a max-heap keyed by such stale gains; the top one is re-evaluated, and if its
fresh gain still tops the heap it is the best pick of this round, without re-evaluating the rest.
Ties go to the candidate given first, so the picks equal the plain greedy's.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

C = TypeVar("C", bound=Hashable)  # a candidate site
D = TypeVar("D", bound=Hashable)  # a demand point

GREEDY_GUARANTEE = 1 - 1 / math.e  # ≈ 0.632


@dataclass(frozen=True)
class Pick(Generic[C, D]):
    candidate: C
    added_weight: float  # demand weight this pick covers that no earlier pick covered
    cumulative_weight: float  # covered by this pick and every earlier one
    newly_covered: frozenset[D]  # the demand points counted in added_weight


@dataclass(frozen=True)
class GreedyResult(Generic[C, D]):
    picks: list[Pick[C, D]]
    evaluations: int  # gain computations: the plain greedy makes about k × candidates


def mclp_greedy(
    *,
    coverage: Mapping[C, Iterable[D]],
    weights: Mapping[D, float],
    k: int,
) -> GreedyResult[C, D]:
    """Pick up to ``k`` candidates of ``coverage`` (candidate → the demand points it covers)
    maximising the total ``weights`` of the points covered, greedily with lazy evaluation.

    Stops early when no candidate adds positive weight. Demand points missing from ``weights``
    weigh 0; weights must not be negative.
    """
    if k < 0:
        raise ValueError("k must not be negative")
    if any(weight < 0 for weight in weights.values()):
        raise ValueError("weights must not be negative")
    sets = {candidate: frozenset(points) for candidate, points in coverage.items()}
    covered: set[D] = set()
    evaluations = 0

    def gain(candidate: C) -> float:
        nonlocal evaluations
        evaluations += 1
        return math.fsum(weights.get(point, 0.0) for point in sets[candidate] - covered)

    # (−gain, position in the input, round the gain was computed in): heapq is a min-heap.
    heap = [(-gain(candidate), order, 0) for order, candidate in enumerate(sets)]
    heapq.heapify(heap)
    candidates = list(sets)
    picks: list[Pick[C, D]] = []
    total = 0.0
    while heap and len(picks) < k:
        negative_gain, order, computed_in = heapq.heappop(heap)
        candidate = candidates[order]
        if computed_in == len(picks):  # fresh: no stale bound above it can beat it
            if -negative_gain <= 0:
                break
            newly = sets[candidate] - covered
            covered |= newly
            added = math.fsum(weights.get(point, 0.0) for point in newly)
            total += added
            picks.append(Pick(candidate=candidate, added_weight=added,
                              cumulative_weight=total, newly_covered=frozenset(newly)))
        else:
            heapq.heappush(heap, (-gain(candidate), order, len(picks)))
    return GreedyResult(picks=picks, evaluations=evaluations)


def covered_weight(
    *, coverage: Mapping[C, Iterable[D]], weights: Mapping[D, float], chosen: Iterable[C]
) -> float:
    """The total weight of the demand points that any of ``chosen`` covers."""
    points: set[D] = set()
    for candidate in chosen:
        points.update(coverage[candidate])
    return math.fsum(weights.get(point, 0.0) for point in points)
