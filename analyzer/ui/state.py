"""What the dashboard keeps between reruns, in one place.

* ``st.cache_resource`` holds what every user may share: the landmark model (one per server
  process; :class:`analyzer.face.landmarks.Landmarker` is thread-safe) and the store's
  connection pool.  No patient data.
* The signed-in user (:class:`analyzer.service.access.Actor`) is ``st.session_state["actor"]``,
  set by the sign-in gate (:mod:`analyzer.ui.auth`); every page passes it to the use cases.
* Patient data are never put in ``st.cache_data`` (shared by all users).  What one user's
  session reuses (lined-up faces, overlays) lives in ``st.session_state`` under a key that
  starts with the patient's pseudonym, so another patient's page never reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from analyzer.service.access import Actor
from analyzer.ui.services.common import new_analyzer, open_app_store

__all__ = ["actor", "analyzer", "forget_patient", "patient_memo", "store"]


def _close(az) -> None:
    az.close()


@st.cache_resource(show_spinner="Loading the face model…", on_release=_close)
def analyzer():
    """The shared analyzer (landmark model loaded once per server process; closed when the
    cache lets it go, never left to the garbage collector)."""
    return new_analyzer()


@st.cache_resource(show_spinner=False, on_release=lambda store: store.close())
def store():
    """The shared store (``$ANALYZER_DB_URL`` or ``data/analyzer.db``)."""
    return open_app_store()


def actor() -> Actor:
    """The signed-in user of this browser session; a page opened without one shows nothing."""
    who = st.session_state.get("actor")
    if not isinstance(who, Actor):
        st.stop()
    return who


def patient_memo(patient: str, key: str, make: Callable[[], Any]) -> Any:
    """``make()`` once per user session, patient and key (kept in ``st.session_state``)."""
    memo = st.session_state.setdefault("_memo", {})
    k = (patient, key)
    if k not in memo:
        memo[k] = make()
    return memo[k]


def forget_patient(patient: str) -> None:
    """Drop this session's memo of a patient (after an upload or an edit)."""
    memo = st.session_state.get("_memo", {})
    for k in [k for k in memo if k[0] == patient]:
        del memo[k]
