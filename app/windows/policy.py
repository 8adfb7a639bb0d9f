"""A clinic's window policy as a plain value, read once per request."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from app.clinics.snapshot import ClinicSettings
from app.sessions.enums import Route

DEFAULT_CLOSES_AFTER_HOURS: Mapping[Route, int] = {
    Route.iv: 72,
    Route.im: 72,
    Route.intranasal: 72,
    Route.sublingual: 168,
    Route.oral: 168,
}


@dataclass(frozen=True)
class WindowPolicy:
    """Offsets from a dose's anchor time, in whole seconds (the stored resolution)."""

    opens_after_s: int
    closes_after_s: Mapping[Route, int]
    closing_soon_s: int

    @classmethod
    def from_clinic(cls, clinic: ClinicSettings) -> "WindowPolicy":
        return cls(
            opens_after_s=clinic.window_opens_after_s,
            closes_after_s={
                Route.iv: clinic.window_closes_iv_s,
                Route.im: clinic.window_closes_im_s,
                Route.intranasal: clinic.window_closes_intranasal_s,
                Route.sublingual: clinic.window_closes_sublingual_s,
                Route.oral: clinic.window_closes_oral_s,
            },
            closing_soon_s=clinic.closing_soon_s,
        )

    @classmethod
    def default(cls) -> "WindowPolicy":
        return cls(
            opens_after_s=0,
            closes_after_s={
                route: hours * 3600 for route, hours in DEFAULT_CLOSES_AFTER_HOURS.items()
            },
            closing_soon_s=24 * 3600,
        )

    # The offsets as timedeltas, made once: the rule adds them for every dose it evaluates.
    _opens_after: timedelta = field(init=False, repr=False, compare=False)
    _closes_after: Mapping[Route, timedelta] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_opens_after", timedelta(seconds=self.opens_after_s))
        closes = {route: timedelta(seconds=s) for route, s in self.closes_after_s.items()}
        object.__setattr__(self, "_closes_after", closes)

    @property
    def opens_after(self) -> timedelta:
        return self._opens_after

    def closes_after(self, route: Route) -> timedelta:
        return self._closes_after[route]
