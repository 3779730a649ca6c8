"""The store: patients, photos (stripped copies), analyses in long form, treatments, symptoms
and consent, in SQLite by default or any SQLAlchemy URL (``$ANALYZER_DB_URL``); see
docs/store.md.

Persistence only: putting photos in (hash, analyse, store) is the use case
:mod:`analyzer.service.imports`; the store imports neither the use cases nor the command line.

The use cases take the acting user (:mod:`analyzer.service.access`) and store nothing without
the patient's care consent (:mod:`analyzer.service.consent`):

>>> from analyzer.store import open_store                      # doctest: +SKIP
>>> from analyzer.service.access import Actor                  # doctest: +SKIP
>>> from analyzer.service.consent import give_consent          # doctest: +SKIP
>>> from analyzer.service.patients import ensure_patient        # doctest: +SKIP
>>> from analyzer.service.imports import import_photos         # doctest: +SKIP
>>> with open_store("data/analyzer.db") as store:              # doctest: +SKIP
...     me = Actor.operator()
...     ensure_patient(store, "P0012", actor=me)
...     give_consent(store, "P0012", "care", actor=me)
...     summary = import_photos(store, ["day1.jpg"], patient="P0012", actor=me)
"""

from .db import DEFAULT_DB_PATH, ENV_DATA_DIR, ENV_URL, Store, StoreError, open_store, upgrade
from .photos import sha256_of
from .records import (
    DeleteSummary,
    add_symptoms,
    add_treatment,
    delete_patient,
    delete_photo,
    has_research_consent,
    set_consent,
)

__all__ = [
    "DEFAULT_DB_PATH",
    "ENV_DATA_DIR",
    "ENV_URL",
    "DeleteSummary",
    "Store",
    "StoreError",
    "add_symptoms",
    "add_treatment",
    "delete_patient",
    "delete_photo",
    "has_research_consent",
    "open_store",
    "set_consent",
    "sha256_of",
    "upgrade",
]
