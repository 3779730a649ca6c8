"""Aftercare guidance by time since treatment, as cited immutable data.

Source: the project's aftercare seed as given in issue #4 (moisturiser; SPF 30+ daily; no
makeup, retinoids or actives for 48-72 h; no intense workouts or sauna for 24 h; clean
pillowcases; no harsh exfoliants, vitamin C or glycolic acid for a week).  Where the seed gives
a range the longer end is used; the windows of the moisturiser, sun protection and pillowcase
items are our choice (the seed gives none).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AFTERCARE", "AftercareItem", "aftercare_for"]

_SEED = "aftercare seed, issue #4"


@dataclass(frozen=True)
class AftercareItem:
    """One piece of advice, shown from ``from_h`` up to (not including) ``until_h`` hours after
    the treatment (``None``: no end)."""

    key: str
    text: str
    from_h: float
    until_h: float | None
    source: str = _SEED

    def applies(self, hours: float) -> bool:
        return hours >= self.from_h and (self.until_h is None or hours < self.until_h)


AFTERCARE: tuple[AftercareItem, ...] = (
    AftercareItem("no_workout_sauna", "No intense workouts, sauna or steam for the first 24 hours.", 0, 24),
    AftercareItem("no_makeup_actives", "No makeup, retinoids or other active products for 72 hours.", 0, 72),
    AftercareItem("clean_pillowcase", "Sleep on a clean pillowcase for the first nights.", 0, 72),
    AftercareItem(
        "no_exfoliants",
        "No harsh exfoliants, vitamin C or glycolic acid for a week.", 0, 168,
    ),
    AftercareItem("moisturiser", "Use a gentle, fragrance-free moisturiser.", 0, 336),
    AftercareItem("spf", "Use sunscreen SPF 30 or higher every day.", 0, None),
)
"""The guidance, in the order shown."""


def aftercare_for(hours: float) -> tuple[AftercareItem, ...]:
    """The items that apply ``hours`` after the treatment (none before it)."""
    return tuple(a for a in AFTERCARE if a.applies(hours))
