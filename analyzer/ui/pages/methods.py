"""Methods page: how the numbers are made, rendered from the project's docs (metrics, light
correction, quality gate, recovery curve and bands, validation), with the analyzer version and
the measured noise figures."""

from __future__ import annotations

import streamlit as st

from analyzer.errors import plain_message
from analyzer.ui.services import research as rs


def _page() -> None:
    st.title("Methods")
    st.caption(f"How each number is measured and judged. Analyzer version **{rs.analyzer_version()}**; "
               "the same text as the project's `docs/` folder.")

    st.subheader("Measured noise")
    figures = rs.noise_figures()
    for col, fig in zip(st.columns(len(figures)), figures):
        col.metric(fig.label, f"sd {fig.value:.2f} {fig.unit}", help=fig.note)
        col.caption(f"Smallest real change between two such photos: {fig.smallest_real_change:.2f} {fig.unit}.")
    st.caption("Standard deviation of face redness (erythema index, EI) on photos of an unchanged face "
               "under changing light, exposure and room (docs/validation.md). A difference between two "
               "photos is called real when it exceeds 2·√(sd1² + sd2²), about 95 % (see *Recovery curve "
               "and bands*).")

    sections = rs.methods_sections()
    tabs = st.tabs([title for title, _ in sections])
    for tab, (_, body) in zip(tabs, sections):
        with tab:
            st.markdown(body)


try:
    _page()
except Exception as e:  # noqa: BLE001 - the boundary: a sentence for the user, never a traceback
    st.error(plain_message(e), icon=":material/error:")
