"""What issues announces to, and asks of, the apps above it, without importing them.

issues sits below patrol in the layering (docs/DECISIONS.md, "Layering of the apps"): it never
imports patrol. Where a case's life needs patrol's work or data, issues names the need here and
patrol plugs in at start-up, in ``PatrolConfig.ready()``:

- ``case_opened``: a Django signal sent by intake inside its transaction when a report opens a
  new case (``case=``, ``at=``); patrol's auto-dispatch receives it. A receiver's exception
  propagates and rolls the report back, as a direct call would.
- ``task_handling``: who handles a task and by when it must be resolved, for the Open311
  listing; patrol registers the provider. Without one (patrol not installed) nobody handles it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from django.dispatch import Signal

case_opened = Signal()


@dataclass(frozen=True)
class TaskHandling:
    handler: str | None  # the team's, department's or union's name, in the request's language
    resolution_due: datetime | None


TaskHandlingProvider = Callable[[Collection[int]], dict[int, TaskHandling]]
_task_handling_provider: list[TaskHandlingProvider] = []


def task_handling_provider_register(provider: TaskHandlingProvider) -> None:
    """Set the one provider (patrol's); registering again replaces it."""
    _task_handling_provider[:] = [provider]


def task_handling(task_ids: Collection[int]) -> dict[int, TaskHandling]:
    """By task id; empty without tasks or without a provider."""
    if not task_ids or not _task_handling_provider:
        return {}
    return _task_handling_provider[0](task_ids)
