"""The Streamlit dashboard: pages (``analyzer/ui/pages``) call services (``analyzer/ui/services``),
the only door to the analyzer; ``analyzer/ui/state.py`` holds what Streamlit caches.

Streamlit serves :data:`APP` (``analyzer/ui/serve/app.py``: the sign-in gate and the navigation),
started by ``skin-analyzer dashboard`` (:mod:`analyzer.ui.server`).  The script has a folder of its
own: Streamlit puts the script's folder first on ``sys.path``, and treats a ``pages/`` folder next
to it as pages to list for everyone, so neither the modules here nor ``pages/`` may sit beside it.
"""

from pathlib import Path

__all__ = ["APP", "page_path"]

_HERE = Path(__file__).resolve().parent

APP = _HERE / "serve" / "app.py"
"""The script Streamlit runs."""


def page_path(name: str) -> str:
    """The absolute path of the page script ``name`` (``"patient"``, ``"admin"``...), as
    ``st.Page``, ``st.page_link`` and ``AppTest.switch_page`` take it (an absolute path needs no
    main-script folder to be relative to, so it holds for the installed package and the checkout
    alike)."""
    path = _HERE / "pages" / f"{name}.py"
    if not path.is_file():
        raise ValueError(f"no dashboard page {name!r} (analyzer/ui/pages/{name}.py)")
    return str(path)
