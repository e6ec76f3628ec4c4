"""Locust load shapes (``LoadTestShape``) that follow the plans in ``loadtests.locust.plans``.

The locustfile exposes one of them, chosen by ``LOAD_SHAPE`` (steady | step | spike | soak).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from locust import LoadTestShape

from loadtests.locust.plans import PLAN_BUILDERS, Stage, plan_from_env, users_at


class PlannedShape(LoadTestShape):
    """Walks a plan of stages with the run time Locust measures; None at the end stops the run."""

    abstract = True
    shape_name = ""

    def __init__(self, plan: list[Stage] | None = None, env: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.plan = (
            plan
            if plan is not None
            else plan_from_env(self.shape_name, env if env is not None else os.environ)
        )

    @property
    def duration_s(self) -> float:
        return self.plan[-1].until_s if self.plan else 0.0

    def tick(self) -> tuple[int, float] | None:
        return users_at(self.plan, self.get_run_time())


class SteadyShape(PlannedShape):
    abstract = False
    shape_name = "steady"


class StepShape(PlannedShape):
    abstract = False
    shape_name = "step"


class SpikeShape(PlannedShape):
    abstract = False
    shape_name = "spike"


class SoakShape(PlannedShape):
    abstract = False
    shape_name = "soak"


SHAPES: dict[str, type[PlannedShape]] = {
    cls.shape_name: cls for cls in (SteadyShape, StepShape, SpikeShape, SoakShape)
}
assert set(SHAPES) == set(PLAN_BUILDERS)


def shape_class(name: str) -> type[PlannedShape]:
    try:
        return SHAPES[name]
    except KeyError:
        raise ValueError(f"LOAD_SHAPE must be one of {', '.join(SHAPES)}; got {name!r}") from None
