"""Records of the report's ``settings`` that the plan gives: a layer below ``results/``,
whose ``Settings`` holds them (``results.records``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..lifecycle.admission import Throttle


@dataclass(frozen=True)
class ControlsSetting:
    """The report's ``settings.controls``: the throttle and the event queue, and where
    each came from (``plan.controls``)."""

    throttle: Throttle | None = None
    throttle_from: str = "none"  # "given", "workflow.yaml" or "none"
    queue_size: int | None = None  # None: no limit (the trigger does not queue)
    queue_from: str = "none"  # "given", "workflow.yaml", "default" (free plan) or "none"

    def to_json(self) -> dict[str, Any]:
        throttle = self.throttle
        return {
            "throttle": None
            if throttle is None
            else {"limit": throttle.limit, "interval_s": throttle.interval_s},
            "throttle_from": self.throttle_from,
            "queue_size": self.queue_size,
            "queue_from": self.queue_from,
        }
