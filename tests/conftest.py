"""Shared fixtures.

``astronaut`` is NASA's public-domain portrait of Eileen Collins as shipped with scikit-image
(512 x 512, not mirrored: her name tag reads left to right).  MediaPipe finds her face; it is
about 89 px wide (0.73 px/mm by the iris), so tests that need more pixels use ``astronaut_x4``.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

ROOT = Path(__file__).resolve().parents[1]


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


# --- the project as users install it -----------------------------------------------------------


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    """``cmd`` (paths allowed) with its output captured as text; at most 300 s."""
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, **kw)


def bare_env(**extra: str) -> dict[str, str]:
    """This process's environment without ``PYTHONPATH``, the model override and Dask settings
    (a program started with it finds only what is installed), plus ``extra``."""
    from analyzer.face.model import MODEL_ENV

    e = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", MODEL_ENV) and not k.startswith("DASK_")}
    return e | extra


@pytest.fixture(scope="session")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with the project pip-installed from a copy of its sources (the checkout is
    never written); returns its bin folder.  Its dependencies come from this test's environment
    through a ``.pth`` file, so nothing is downloaded."""
    tmp = tmp_path_factory.mktemp("installed")
    src = tmp / "src"
    # analyzer/docs is a link to docs/: the copy holds the files themselves, as an sdist does
    shutil.copytree(ROOT / "analyzer", src / "analyzer", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", src / "pyproject.toml")
    venv = tmp / "venv"
    r = run([sys.executable, "-m", "venv", venv])
    assert r.returncode == 0, r.stderr
    bin_ = venv / "bin"
    purelib = run([bin_ / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    # the dependencies: this environment's site-packages, read after the venv's own
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    r = run([bin_ / "python", "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
             "--disable-pip-version-check", src], cwd=tmp)
    assert r.returncode == 0, r.stdout + r.stderr
    return bin_
