"""The store: patients, photos (stripped copies), analyses in long form, treatments, symptoms
and consent, in SQLite by default or any SQLAlchemy URL (``$ANALYZER_DB_URL``); see
docs/store.md.

>>> from analyzer.store import open_store, import_photos      # doctest: +SKIP
>>> with open_store("data/analyzer.db") as store:              # doctest: +SKIP
...     summary = import_photos(store, ["day1.jpg"], patient="P0012")
"""

from .db import DEFAULT_DB_PATH, ENV_DATA_DIR, ENV_URL, Store, StoreError, open_store, upgrade
from .importer import REGIONS, VARIABLES, ImportSummary, import_photos, sha256_of, strip_metadata
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
    "REGIONS",
    "VARIABLES",
    "DeleteSummary",
    "ImportSummary",
    "Store",
    "StoreError",
    "add_symptoms",
    "add_treatment",
    "delete_patient",
    "delete_photo",
    "has_research_consent",
    "import_photos",
    "open_store",
    "set_consent",
    "sha256_of",
    "strip_metadata",
    "upgrade",
]
