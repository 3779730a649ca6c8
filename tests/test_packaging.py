"""The package's declared dependencies agree with the pinned set that run.sh and CI install."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def pinned() -> dict[str, str]:
    """requirements.txt as {canonical name: pinned version}."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier  # exactly one ==X pin per line
            assert spec.operator == "==", f"{line}: requirements.txt pins with =="
            pins[canonicalize_name(req.name)] = spec.version
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return [Requirement(r) for r in project["dependencies"] + extras]


def test_every_declared_dependency_is_pinned_inside_its_range():
    pins = pinned()
    missing = [str(r) for r in declared() if canonicalize_name(r.name) not in pins]
    outside = [f"{r} (pinned {pins[canonicalize_name(r.name)]})" for r in declared()
               if canonicalize_name(r.name) in pins and not r.specifier.contains(pins[canonicalize_name(r.name)])]
    assert missing == [] and outside == []


def test_every_pin_is_declared():
    names = {canonicalize_name(r.name) for r in declared()}
    assert sorted(set(pinned()) - names) == []


def test_a_range_that_the_pin_misses_is_caught():
    # the check above can fail: a range below the pinned version is not satisfied by it
    assert not Requirement("numpy>=3").specifier.contains(pinned()["numpy"])
