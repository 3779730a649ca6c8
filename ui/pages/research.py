"""Research page: the observation export with filters, de-identified by default, and the data
dictionary.

Everything comes from :mod:`ui.services.research`; nothing here is cached (the export is
re-read from the store on each rerun, which takes well under a second for a practice's data).
"""

from __future__ import annotations

import streamlit as st

from analyzer.errors import plain_message
from ui import state
from ui.services import research as rs
from ui.services.common import store_is_empty

PREVIEW_ROWS = 200
FORMAT_LABELS = {"csv": "CSV", "parquet": "Parquet", "json": "JSON"}


def _empty_store() -> None:
    st.info("There are no patients in the store yet, so there is nothing to export. "
            "Open the **Patient** page and press its button that loads the demo patients, "
            "then come back here.")
    st.page_link("ui/pages/patient.py", label="Go to the Patient page", icon=":material/face:")


def _consent_statement(ex: rs.Observations) -> None:
    if ex.identified:
        st.warning(
            "**Identified export: for the practitioner's own records only.** It contains names, "
            "capture and treatment dates and photo fingerprints, and it includes every patient "
            f"({ex.patients}), with or without research consent. Do not share it for research; "
            "turn the switch off for a de-identified file.",
            icon=":material/warning:",
        )
        return
    st.success(
        "**De-identified.** The export holds each patient's pseudonym, the days since treatment "
        "and the measurements: no names, no dates, no file names, no photos. Only patients who "
        f"gave research consent are included: **{ex.patients} included**, "
        f"**{ex.excluded_without_consent} left out** (no research consent).",
        icon=":material/verified_user:",
    )


def _filters(opts: rs.ExportOptions) -> dict:
    c1, c2, c3 = st.columns(3)
    patients = c1.multiselect("Patients (pseudonyms)", opts.patients, key="research_patients",
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


def _downloads(df, ex: rs.Observations, filters: dict) -> None:
    st.subheader("Download")
    st.caption(
        "Each download is a ZIP with the data file, its schema (`observations.<format>.schema.json`: "
        "columns, types, units, filters applied, analyzer version) and the data dictionary "
        "(`data-dictionary.md`). Parquet keeps the column types; CSV opens anywhere."
    )
    cols = st.columns(len(rs.FORMATS))
    for col, fmt in zip(cols, rs.FORMATS):
        dl = rs.export_bytes(df, fmt, source=ex, filters=filters)
        col.download_button(
            f"{FORMAT_LABELS[fmt]} + schema (.zip)", data=dl.data, file_name=dl.file_name, mime=dl.mime,
            key=f"research_download_{fmt}", icon=":material/download:", width="stretch", on_click="ignore",
        )


def _page() -> None:
    st.title("Research export")
    st.caption("One row per measurement (photo × region × variable), in long form, ready for statistics. "
               "The columns are explained in the data dictionary below.")
    store = state.store()
    if store_is_empty(store):
        _empty_store()
        return

    identified = st.toggle("Identified export (practitioner's own use)", value=False, key="research_identified",
                           help="Adds names, capture and treatment dates and photo fingerprints, and "
                                "includes patients without research consent.")
    with st.spinner("Reading the measurements…"):
        ex = rs.load_export(store, identified=identified)
    _consent_statement(ex)

    if ex.table.empty:
        st.info("No included patient has measured photos yet, so the export is empty. "
                "Import photos on the Patient page, or record research consent for the patients.")
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
            _downloads(df, ex, filters)

    with st.expander("Data dictionary: what each column means", icon=":material/menu_book:"):
        st.markdown(rs.data_dictionary_markdown())


try:
    _page()
except Exception as e:  # noqa: BLE001 - the boundary: a sentence for the user, never a traceback
    st.error(plain_message(e), icon=":material/error:")
