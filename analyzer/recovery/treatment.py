"""The treatment record and the per-protocol curve parameters (read from small TOML files).

A :class:`Protocol` holds every number of the expected course with its unit in the field name;
the shipped ones live in ``analyzer/recovery/protocols/*.toml`` and are looked up by name in
:data:`PROTOCOLS`.  A practitioner can load their own file with :func:`load_protocol`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType

from ..errors import AnalyzerError

__all__ = [
    "MAX_NEEDLE_DEPTH_MM",
    "MIN_NEEDLE_DEPTH_MM",
    "PROTOCOLS",
    "Protocol",
    "RecoveryError",
    "Treatment",
    "get_protocol",
    "hours_between",
    "load_protocol",
]

MIN_NEEDLE_DEPTH_MM = 0.25
MAX_NEEDLE_DEPTH_MM = 2.5
"""mm.  The needle depths this course model covers (issue #4; facial micro-needling)."""

_PROTOCOL_DIR = Path(__file__).with_name("protocols")


class RecoveryError(AnalyzerError):
    """A problem with the treatment record, a protocol file or a symptom diary."""


@dataclass(frozen=True)
class Protocol:
    """Curve parameters of one treatment protocol.  Units are in the names; see
    ``protocols/default.toml`` for the sources of the default values."""

    name: str
    description: str
    half_life_depth_mm: tuple[float, ...]
    half_life_h: tuple[float, ...]
    half_life_low_factor: float
    half_life_high_factor: float
    default_peak_excess_ei: float
    peak_fit_window_h: float
    flaking_expected_from_h: float
    flaking_expected_until_h: float
    flaking_resolved_by_h: float
    texture_better_from_h: float
    darkening_after_h: float
    persistent_warning_h: float
    persistent_urgent_h: float
    persistent_fraction_of_peak: float
    slow_fading_at_h: float
    slow_fading_fraction_gone: float
    rebound_after_h: float

    def __post_init__(self) -> None:
        d, h = self.half_life_depth_mm, self.half_life_h
        if len(d) != len(h) or len(d) < 1:
            raise ValueError("half_life_depth_mm and half_life_h must be lists of the same length")
        if any(b <= a for a, b in pairwise(d)):
            raise ValueError("half_life_depth_mm must be increasing")
        if any(x <= 0 for x in h):
            raise ValueError("half_life_h must be positive")
        if not 0 < self.half_life_low_factor <= 1 <= self.half_life_high_factor:
            raise ValueError("need 0 < half_life_low_factor <= 1 <= half_life_high_factor")

    def half_life_for_depth(self, depth_mm: float) -> float:
        """Half-life of the redness excess in hours for a needle depth in mm.

        Linear interpolation in the protocol's table, held flat outside it.
        """
        d, h = self.half_life_depth_mm, self.half_life_h
        if depth_mm <= d[0]:
            return float(h[0])
        if depth_mm >= d[-1]:
            return float(h[-1])
        for (d0, h0), (d1, h1) in pairwise(zip(d, h)):
            if d0 <= depth_mm <= d1:
                return float(h0 + (h1 - h0) * (depth_mm - d0) / (d1 - d0))
        raise AssertionError("unreachable")


def load_protocol(path: str | Path) -> Protocol:
    """Read a protocol TOML file (every key of :class:`Protocol`, units in the names).

    Raises
    ------
    RecoveryError
        When the file cannot be read, is not TOML, or lacks or mistypes a key.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except OSError as e:
        raise RecoveryError(str(path), f"cannot be read ({e.strerror})", "check the path") from None
    except tomllib.TOMLDecodeError as e:
        raise RecoveryError(str(path), f"is not valid TOML ({e})", "fix the file") from None
    names = [f.name for f in fields(Protocol)]
    missing = [n for n in names if n not in raw]
    unknown = [k for k in raw if k not in names]
    if missing or unknown:
        what = "; ".join(
            part for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"unknown {', '.join(unknown)}" if unknown else "",
            ) if part
        )
        raise RecoveryError(str(path), f"has the wrong keys ({what})", "compare it with protocols/default.toml")
    try:
        values = {}
        for f in fields(Protocol):
            v = raw[f.name]
            if f.name in ("name", "description"):
                values[f.name] = str(v)
            elif f.name.startswith("half_life_") and isinstance(v, list):
                values[f.name] = tuple(float(x) for x in v)
            else:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise ValueError(f"{f.name} must be a number")
                values[f.name] = float(v)
        return Protocol(**values)
    except (TypeError, ValueError) as e:
        raise RecoveryError(str(path), f"has a bad value ({e})", "compare it with protocols/default.toml") from None


def _load_shipped() -> Mapping[str, Protocol]:
    out = {}
    for p in sorted(_PROTOCOL_DIR.glob("*.toml")):
        proto = load_protocol(p)
        out[proto.name] = proto
    return MappingProxyType(out)


PROTOCOLS: Mapping[str, Protocol] = _load_shipped()
"""The shipped protocols by name (read once from ``protocols/*.toml``)."""


def get_protocol(name: str) -> Protocol:
    """The shipped protocol called ``name``; a :class:`RecoveryError` lists the known ones."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise RecoveryError(
            name, "is not a known protocol", f"use one of: {', '.join(sorted(PROTOCOLS))}"
        ) from None


@dataclass(frozen=True)
class Treatment:
    """One micro-needling session.

    Parameters
    ----------
    treated_at : datetime
        When the treatment ended.  With a UTC offset preferably; a naive time is compared with
        photo times as wall-clock time.
    needle_depth_mm : float
        Needle depth, mm, within 0.25-2.5.
    areas : tuple of str
        Treated areas, free text or region names (e.g. ``("forehead", "left_cheek")``).
    protocol : str
        Name of the protocol in :data:`PROTOCOLS` whose curve parameters apply.
    protocol_params : Protocol, optional
        Parameters read from a practitioner's own file (:func:`load_protocol`); used instead of
        the registry when given.
    """

    treated_at: datetime
    needle_depth_mm: float = 1.0
    areas: tuple[str, ...] = ("face",)
    protocol: str = "default"
    protocol_params: Protocol | None = None

    def __post_init__(self) -> None:
        if not (MIN_NEEDLE_DEPTH_MM <= self.needle_depth_mm <= MAX_NEEDLE_DEPTH_MM):
            raise RecoveryError(
                "treatment",
                f"needle depth {self.needle_depth_mm:g} mm is outside "
                f"{MIN_NEEDLE_DEPTH_MM}-{MAX_NEEDLE_DEPTH_MM} mm",
                "give the depth in millimetres",
            )
        object.__setattr__(self, "areas", tuple(self.areas))

    @property
    def curve(self) -> Protocol:
        """The protocol's parameters."""
        if self.protocol_params is not None:
            return self.protocol_params
        return get_protocol(self.protocol)

    def hours_since(self, when: datetime) -> float:
        """Hours from the treatment to ``when`` (negative before it); :func:`hours_between`."""
        return hours_between(self.treated_at, when)


def hours_between(start: datetime, when: datetime) -> float:
    """Hours from ``start`` to ``when`` (negative when ``when`` is earlier).

    Elapsed time when both carry a UTC offset; wall-clock time when either is naive (a photo
    without a known offset is compared with the treatment as the clocks showed them).
    """
    a, b = when, start
    if (a.tzinfo is None) != (b.tzinfo is None):
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    return (a - b).total_seconds() / 3600.0
