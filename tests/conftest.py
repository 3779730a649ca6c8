"""Shared fixtures.

``astronaut`` is NASA's public-domain portrait of Eileen Collins as shipped with scikit-image
(512 x 512, not mirrored: her name tag reads left to right).  MediaPipe finds her face; it is
about 89 px wide (0.73 px/mm by the iris), so tests that need more pixels use ``astronaut_x4``.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """``skimage.data.astronaut()``: (512, 512, 3) uint8 sRGB, read-only."""
    img = data.astronaut()
    img.setflags(write=False)
    return img


@pytest.fixture(scope="session")
def astronaut_x4(astronaut: np.ndarray) -> np.ndarray:
    """The astronaut upscaled x4 with INTER_CUBIC: (2048, 2048, 3) uint8, read-only; the face
    is about 356 px wide, 2.9 px/mm."""
    img = cv2.resize(astronaut, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    img.setflags(write=False)
    return img


@pytest.fixture(scope="session")
def landmarker():
    """One :class:`analyzer.face.landmarks.Landmarker` for the session (the installed model;
    ``python -m analyzer fetch-model`` installs it)."""
    from analyzer.face.landmarks import Landmarker

    with Landmarker() as lm:
        yield lm


@pytest.fixture(scope="session")
def az():
    """One :class:`analyzer.Analyzer` with the default settings for the session (the model is
    loaded once; ``Analyzer.analyze`` keeps no state between photos)."""
    from analyzer.pipeline import Analyzer

    with Analyzer() as a:
        yield a


@pytest.fixture(scope="session")
def op():
    """The command line's acting user (:meth:`analyzer.service.access.Actor.operator`: admin rights)."""
    from analyzer.service.access import Actor

    return Actor.operator()


@pytest.fixture(scope="session")
def consented():
    """``consented(store, *pseudonyms, scope="care")``: the patients (created if new) with an
    open consent of that scope, recorded straight in the store (no actor, no audit line)."""
    from analyzer.store.records import set_consent

    def give(store, *pseudonyms: str, scope: str = "care") -> None:
        for p in pseudonyms:
            set_consent(store, p, scope, text_version=f"{scope}-1", recorded_by="test")

    return give


@pytest.fixture
def clinic(tmp_path, consented):
    """A store with patients P1 and P2 (care consent) and the acting users of each role:
    ``admin``, ``pat1`` (patient P1), ``pat2`` (patient P2), ``dr`` (practitioner, P1 assigned),
    ``dr2`` (practitioner, nobody assigned), ``res`` (researcher).  Accounts are made as rows
    (no passwords): the use cases see only the :class:`~analyzer.service.access.Actor`."""
    from types import SimpleNamespace

    from analyzer.service.access import Actor
    from analyzer.store import open_store
    from analyzer.store.models import Assignment, User
    from analyzer.store.records import find_patient, now

    with open_store(tmp_path / "clinic" / "analyzer.db") as store:
        consented(store, "P1", "P2")
        actors = {}
        with store.sessions.begin() as s:
            p1 = find_patient(s, "P1")
            for login, role, patient in (("admin", "admin", None), ("pat1", "patient", "P1"),
                                         ("pat2", "patient", "P2"), ("dr", "practitioner", None),
                                         ("dr2", "practitioner", None), ("res", "researcher", None)):
                u = User(login=login, role=role, created_at=now(), disabled=False, failed_logins=0,
                         patient_id=find_patient(s, patient).id if patient else None)
                s.add(u)
                s.flush()
                actors[login] = Actor(login, role, user_id=u.id, patient=patient)
                if login == "dr":
                    s.add(Assignment(user_id=u.id, patient_id=p1.id))
        yield SimpleNamespace(store=store, **actors)
