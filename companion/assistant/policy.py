"""When the model polishes a grounded draft: per task `always`, `never`, or `auto`, which reads the latest
stored calibration of this backend, task and prompt version (`companion eval calibrate`) and calls the
model only when its replies passed validation often enough. A request may ask for the model anyway
(`polish: true`), except where the policy is `never`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from companion.settings import AssistantSettings
from companion.storage.db import Database, ModelCalibration

TASKS = ("goals", "agenda", "feedback", "ask")


@dataclass(frozen=True)
class Calibration:
    backend: str
    task: str
    prompt_version: str
    cases: int
    passed: int
    pass_rate: float


@dataclass(frozen=True)
class Decision:
    call: bool
    reason: str


class CalibrationStore:
    def __init__(self, *, db: Database) -> None:
        self.db = db

    def record(self, calibration: Calibration, *, seconds: float = 0.0) -> None:
        with self.db.session() as session:
            session.add(
                ModelCalibration(
                    backend=calibration.backend,
                    task=calibration.task,
                    prompt_version=calibration.prompt_version,
                    cases=calibration.cases,
                    passed=calibration.passed,
                    pass_rate=calibration.pass_rate,
                    seconds=round(seconds, 2),
                )
            )

    def latest(self, backend: str, task: str, prompt_version: str) -> Calibration | None:
        with self.db.session() as session:
            row = session.scalar(
                select(ModelCalibration)
                .where(
                    ModelCalibration.backend == backend,
                    ModelCalibration.task == task,
                    ModelCalibration.prompt_version == prompt_version,
                )
                .order_by(ModelCalibration.id.desc())
                .limit(1)
            )
            if row is None:
                return None
            return Calibration(
                row.backend, row.task, row.prompt_version, row.cases, row.passed, row.pass_rate
            )


class PolishPolicy:
    def __init__(
        self,
        *,
        settings: AssistantSettings,
        calibrations: CalibrationStore,
        backend: str,
        local: bool,
    ) -> None:
        self.settings = settings
        self.calibrations = calibrations
        self.backend = backend
        self.local = local

    def decide(
        self, task: str, prompt_version: str, *, polish: bool = False, override: str | None = None
    ) -> Decision:
        policy = override or getattr(self.settings.policy, task)
        if policy == "never":
            return Decision(False, f"policy for {task} is 'never'")
        if policy == "always":
            return Decision(True, f"policy for {task} is 'always'")
        if polish:
            return Decision(True, "the request asked for the model")
        found = self.calibrations.latest(self.backend, task, prompt_version)
        if found is None:
            rule = self.settings.auto_without_calibration
            call = rule == "call" or (rule == "skip_local" and not self.local)
            return Decision(call, f"no calibration of {self.backend} for {task} yet: "
                            + ("calling the model" if call else "the grounded draft answers"))  # fmt: skip
        threshold = self.settings.min_pass_rate
        passes = found.pass_rate >= threshold
        return Decision(
            passes,
            f"calibrated pass rate of {self.backend} for {task}: {found.pass_rate:.2f} "
            f"({found.passed}/{found.cases}) {'>=' if passes else '<'} {threshold:.2f}",
        )
