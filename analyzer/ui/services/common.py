"""The store and the model for the dashboard, and the demo patients.

Plain Python (no Streamlit): the pages decide what to cache (``analyzer/ui/state.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from analyzer.errors import AnalyzerError
from analyzer.pipeline import Analyzer
from analyzer.recovery.treatment import Treatment
from analyzer.service.access import Actor
from analyzer.service.analyzers import open_analyzer
from analyzer.service.consent import give_consent
from analyzer.service.imports import import_photo_bytes
from analyzer.service.patients import add_treatment, ensure_patient, visible_patients
from analyzer.store.db import Store, open_store
from analyzer.store.models import Patient, User
from analyzer.store.query import PatientInfo

__all__ = [
    "DEMO_PATIENTS",
    "DEMO_TREATED_AT",
    "UNREACHABLE",
    "DemoPatient",
    "has_active_account",
    "load_demo",
    "md_text",
    "new_analyzer",
    "open_app_store",
    "store_is_empty",
    "visible",
]

_MARKDOWN_SPECIAL = frozenset("\\`*_{}[]()#+-.!|<>~:$&=\"'")
"""ASCII punctuation that Markdown (CommonMark) or Streamlit's own syntax (``:red[...]``,
``:material/icon:``, ``$...$``) can give a meaning; CommonMark lets any ASCII punctuation be
escaped with a backslash."""


def md_text(value: object) -> str:
    r"""``value`` as literal text inside Streamlit Markdown: every Markdown and Streamlit special
    character backslash-escaped and line breaks folded to spaces, so a file name or a name
    typed by someone (``[x](http://...)``, ``![t](http://...)``, ``:red[...]``) shows as typed
    and never becomes a link, an image or formatting.

    >>> md_text("![t](http://e.vil/t.png)") == r"\!\[t\]\(http\://e\.vil/t\.png\)"
    True
    """
    text = " ".join(str(value).split())
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in text)


SAMPLES = Path(__file__).resolve().parents[3] / "sample_images"
"""The demo photos: in a checkout of the project only (the installed package has no demo)."""

UNREACHABLE = ("The dashboard cannot reach its database right now. Please try again later, or tell the "
               "clinic.")
"""What a visitor sees when the store cannot be opened; the detail (host, port, user) goes to the
server log only, and to admins on the Admin page."""

DEMO_TREATED_AT = datetime.fromisoformat("2026-11-03T09:00:00+01:00")
"""When the demo patients were treated (the time the sample series were generated for)."""


@dataclass(frozen=True)
class DemoPatient:
    pseudonym: str
    display_name: str
    folder: str


DEMO_PATIENTS = (
    DemoPatient("DEMO-1", "Demo: expected recovery", "normal"),
    DemoPatient("DEMO-2", "Demo: redness that will not fade", "persistent_redness"),
    DemoPatient("DEMO-3", "Demo: redness that comes back", "redness_rebound"),
    DemoPatient("DEMO-4", "Demo: darkening", "darkening"),
)
"""The demo patients: the four sample courses in ``sample_images/`` (its README says how
they were made), treated at :data:`DEMO_TREATED_AT` with a 1.0 mm needle depth."""


def open_app_store(db: str | os.PathLike | None = None) -> Store:
    """The dashboard's store: ``db``, else ``$ANALYZER_DB_URL``, else ``data/analyzer.db``."""
    return open_store(db)


def new_analyzer() -> Analyzer:
    """An open :class:`Analyzer` (the landmark model loaded); the caller closes it."""
    return open_analyzer()


def visible(store: Store, *, actor: Actor) -> list[PatientInfo]:
    """The patients ``actor`` may open (:func:`analyzer.service.patients.visible_patients`), by
    pseudonym."""
    return visible_patients(store, actor=actor)


def store_is_empty(store: Store) -> bool:
    """True when the store has no patient at all (whoever asks: it says nothing about anyone)."""
    with store.sessions() as s:
        return s.scalar(select(Patient.id).limit(1)) is None


def has_active_account(store: Store) -> bool:
    """True when at least one account that is not disabled exists (sign-in is configured)."""
    with store.sessions() as s:
        return s.scalar(select(User.id).where(User.disabled.is_(False)).limit(1)) is not None


def load_demo(store: Store, analyzer: Analyzer, progress: Callable[[float, str], None] | None = None,
              patients: tuple[DemoPatient, ...] = DEMO_PATIENTS, *, actor: Actor | None = None) -> int:
    """Import the demo patients' photos with their treatment, care and research consent
    (recorded by ``actor``, default the command line's operator; idempotent); returns how many
    photos are stored for them."""
    actor = actor or Actor.operator()
    missing = [d.folder for d in patients if not (SAMPLES / d.folder).is_dir()]
    if missing:
        raise AnalyzerError(str(SAMPLES / missing[0]), "the demo photos are not here",
                            "the demo comes with a checkout of the project (./run.sh), not with the "
                            "installed package")
    for demo in patients:
        ensure_patient(store, demo.pseudonym, demo.display_name, actor=actor)
        give_consent(store, demo.pseudonym, "care", actor=actor)
        give_consent(store, demo.pseudonym, "research", actor=actor)
    files = [(d, f) for d in patients for f in sorted((SAMPLES / d.folder).glob("*.jpg"))]
    stored = 0
    for i, (demo, path) in enumerate(files):
        if progress is not None:
            progress(i / len(files), f"{demo.display_name}: {path.name}")
        out = import_photo_bytes(store, demo.pseudonym, path.name, path.read_bytes(), analyzer, actor=actor)
        stored += out.status != "failed"
    for demo in patients:
        add_treatment(store, demo.pseudonym, Treatment(DEMO_TREATED_AT, needle_depth_mm=1.0), actor=actor)
    if progress is not None:
        progress(1.0, "done")
    return stored
