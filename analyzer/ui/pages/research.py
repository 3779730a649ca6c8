"""Research page: the observation export with filters, de-identified by default, and the data
dictionary.

Everything comes from :mod:`analyzer.ui.services.research`; nothing here is cached (the export is
re-read from the store on each rerun, which takes well under a second for a practice's data).
The signed-in user is ``st.session_state["actor"]`` (put there by serve/app.py's sign-in); every call
passes it on and the use cases check it.  A researcher sees the de-identified table under the
study's keyed pseudonyms only; the identified switch is shown only to whoever may make that
export (an admin).  A download is registered when its bytes are built, that is when it is
clicked (``data`` is a callable), not on every redraw.
"""

from __future__ import annotations

import streamlit as st

from analyzer.errors import plain_message
from analyzer.service.access import may
from analyzer.ui import page_path, state
from analyzer.ui.services import research as rs
from analyzer.ui.services.common import md_text, store_is_empty

PREVIEW_ROWS = 200
FORMAT_LABELS = {"csv": "CSV", "parquet": "Parquet", "json": "JSON"}


def _empty_store() -> None:
    st.info("There are no patients in the store yet, so there is nothing to export. "
            "Open the **Patient** page and press its button that loads the demo patients, "
            "then come back here.")
    st.page_link(page_path("patient"), label="Go to the Patient page", icon=":material/face:")


def _consent_statement(ex: rs.Observations) -> None:
    if ex.identified:
        st.warning(
            "**Identified export: for the practice's own records only.** It contains the practice's "
            "pseudonyms, names, capture and treatment dates and photo fingerprints of every patient "
            f"with care consent ({ex.patients} included, {ex.excluded_without_consent} left out), with "
            "or without research consent. Do not share it for research; turn the switch off for a "
            "de-identified file. Each download is written to the export register.",
            icon=":material/warning:",
        )
        return
    st.success(
        f"**De-identified, study {md_text(ex.study)}.** Each patient appears under a pseudonym made for this "
        "study only (the same in every export of the study), with the days since treatment rounded "
        "to a quarter day and the measurements: no names, no dates, no file names, no photos. Only "
        f"patients who gave research consent are included: **{ex.patients} included**, "
        f"**{ex.excluded_without_consent} left out** (no research consent). Each download is "
        "written to the export register.",
        icon=":material/verified_user:",
    )


def _filters(opts: rs.ExportOptions) -> dict:
    c1, c2, c3 = st.columns(3)
    patients = c1.multiselect("Patients (study pseudonyms)", opts.patients, key="research_patients",
                              placeholder="All patients")
    regions = c2.multiselect("Regions", opts.regions, key="research_regions", placeholder="All regions",
                             help="'face' is the area-weighted mean of forehead, cheeks and chin.")
    variables = c3.multiselect("Variables", opts.variables, key="research_variables",
                               placeholder="All variables")
    days = None
    c4, c5 = st.columns([2, 1], vertical_alignment="center")
    if opts.days is not None:
        lo, hi = opts.days
        chosen = c4.slider("Days since treatment", min_value=lo, max_value=hi, value=(lo, hi), step=0.5, format="%.1f",
                           key=f"research_days_{lo:g}_{hi:g}",
                           help="Whole range: every row, also rows without a treatment date.")
        if tuple(chosen) != (lo, hi):
            days = (float(chosen[0]), float(chosen[1]))
            if opts.rows_without_day:
                c4.caption(f"{opts.rows_without_day} rows without a treatment date are left out by this range.")
    else:
        c4.caption("No photo has a treatment date before it, so there is no day range to filter.")
    quality = c5.toggle("Passed the quality check only", key="research_quality_ok",
                        help="Leave out photos whose quality check found a problem that makes the numbers unreliable.")
    return {
        "patients": list(patients) or None,
        "regions": list(regions) or None,
        "variables": list(variables) or None,
        "days_since_treatment": list(days) if days else None,
        "quality_ok_only": bool(quality),
    }


def _downloads(store, actor, df, ex: rs.Observations, filters: dict) -> None:
    st.subheader("Download")
    st.caption(
        "Each download is a ZIP with the data file, its schema (`observations.<format>.schema.json`: "
        "columns, types, units, filters applied, analyzer version) and the data dictionary "
        "(`data-dictionary.md`). Parquet keeps the column types; CSV opens anywhere."
    )
    cols = st.columns(len(rs.FORMATS))
    for col, fmt in zip(cols, rs.FORMATS):
        # built when clicked, so drawing the page hands nothing out
        build = rs.deferred_download(store, df, fmt, actor=actor, source=ex, filters=filters)
        col.download_button(
            f"{FORMAT_LABELS[fmt]} + schema (.zip)", data=build, file_name=rs.download_name(ex, fmt),
            mime="application/zip", key=f"research_download_{fmt}", icon=":material/download:",
            width="stretch", on_click="ignore",
        )


def _page() -> None:
    st.title("Research export")
    st.caption("One row per measurement (photo × region × variable), in long form, ready for statistics. "
               "The columns are explained in the data dictionary below.")
    actor = st.session_state.get("actor")
    if actor is None:
        st.info("Sign in to use the research export.")
        return
    store = state.store()
    if not may(store, actor, "export.deidentified"):
        st.info("Your account may not export research data. A researcher's or an admin's account may.")
        return
    if may(store, actor, "patient.create") and store_is_empty(store):
        _empty_store()
        return

    c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
    study = c1.text_input(
        "Study", value=rs.DEFAULT_STUDY, max_chars=64, key="research_study",
        help="The study's name: each study has its own patient pseudonyms, so exports of one study can be "
             "joined and exports of two studies cannot. 1 to 64 letters, digits, '_', '.' or '-'.").strip()
    try:
        rs.check_study(study)
    except rs.ExportError:  # said without echoing what was typed
        st.error("A study name is 1 to 64 letters, digits, '_', '.' or '-', without spaces. "
                 "Choose a name such as acne-2026.", icon=":material/error:")
        return
    identified = False
    if may(store, actor, "export.identified"):
        identified = c2.toggle(
            "Identified export (the practice's own use)", value=False, key="research_identified",
            help="Adds the practice's pseudonyms, names, capture and treatment dates and photo fingerprints; "
                 "includes patients with care consent, with or without research consent.")
    with st.spinner("Reading the measurements…"):
        ex = rs.load_export(store, actor=actor, identified=identified, study=study)
    _consent_statement(ex)

    if ex.table.empty:
        st.info("No included patient has measured photos yet, so the export is empty. "
                "Patients join it once they have measured photos and the consent the export needs.")
    else:
        opts = rs.export_options(ex.table)
        st.subheader("Filters")
        filters = _filters(opts)
        df = rs.filter_rows(ex.table, patients=filters["patients"], regions=filters["regions"],
                            variables=filters["variables"], days=filters["days_since_treatment"],
                            quality_ok_only=filters["quality_ok_only"])

        st.subheader("Preview")
        photos = df[["patient", "photo"]].drop_duplicates().shape[0] if len(df) else 0
        st.markdown(f"**{len(df):,} rows** · {df['patient'].nunique() if len(df) else 0} patients · "
                    f"{photos} photos (of {len(ex.table):,} rows before filtering)")
        if df.empty:
            st.info("No row matches these filters. Widen the day range or clear a filter.")
        else:
            st.dataframe(df.head(PREVIEW_ROWS), hide_index=True, width="stretch")
            if len(df) > PREVIEW_ROWS:
                st.caption(f"Showing the first {PREVIEW_ROWS} of {len(df):,} rows; the download has them all.")
            _downloads(store, actor, df, ex, filters)

    with st.expander("Data dictionary: what each column means", icon=":material/menu_book:"):
        st.markdown(rs.data_dictionary_markdown())


try:
    _page()
except Exception as e:  # noqa: BLE001 - the boundary: a sentence for the user, never a traceback
    st.error(plain_message(e), icon=":material/error:")
