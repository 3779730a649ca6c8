"""Practitioner page: the signed-in practitioner's patients (an admin's: every patient) in one
table (most severe open flag first, then the farthest from the expected curve), one patient's
course in detail, the printable report, a new patient and a patient's invite code.

Streamlit script (run by ``serve/app.py``); everything it knows comes from ``analyzer.ui.services``.  Patient
data are kept only in this user's session (``state.patient_memo``), never in ``st.cache_data``.
Each section is a function of its explicit inputs (the store, the patient, the course).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from analyzer.errors import plain_message
from analyzer.service.access import Actor, may
from analyzer.service.users import INVITE_VALID_S, create_invite
from analyzer.store.db import Store
from analyzer.ui import page_path, state
from analyzer.ui.charts import SEVERITY_COLOURS, recovery_chart
from analyzer.ui.forms import new_patient_form
from analyzer.ui.services.common import md_text, store_is_empty
from analyzer.ui.services.patient import (
    REGION_CHOICES,
    CourseView,
    aligned_faces,
    course_view,
    timeline,
)
from analyzer.ui.services.practice import SEVERITY_LABELS, report_file_name, report_html, triage
from analyzer.vocab import TRIAGE_ORDER

# Comments, not docstrings, below: a bare string in a page script is shown on the page.
BADGE = dict(zip(TRIAGE_ORDER, ("red", "orange", "blue", "gray", "gray"), strict=True))
# Streamlit badge colour of each triage state (the label is always written out beside it).
TABLE_COLOURS = dict(zip(TRIAGE_ORDER, (SEVERITY_COLOURS["urgent"], SEVERITY_COLOURS["warning"],
                                        SEVERITY_COLOURS["info"], "#6f7d79", "#9aa5a2"), strict=True))
# Colour of each triage state in the table.
STRIP_MAX = 14
# Photos in the photo strip: one a day, at most this many.


def triage_table(table: pd.DataFrame) -> None:
    """Every patient of the caseload, the ones who need attention first."""
    st.subheader("My patients")
    st.caption("Sorted by the most severe open flag of each patient's latest treatment, then the courses the photos "
               "cannot judge yet, then by how far the latest good photo lies from the expected redness curve. Distance is in standard deviations of the "
               "measurement noise: + redder than expected, − less red; within ±2 is what light and camera alone "
               "can do.")
    shown = table.assign(
        severity=table["severity"].map(lambda s: [SEVERITY_LABELS[s]]),
        flags=table["flags"].map(lambda f: [c.strip().replace("_", " ") for c in f.split(",") if c.strip()]),
    )
    st.dataframe(
        shown, hide_index=True, width="stretch", key="triage-table",
        column_order=["pseudonym", "name", "severity", "cant_tell", "distance", "flags", "what_to_do",
                      "days_since_treatment", "last_photo", "photos", "status"],
        column_config={
            "pseudonym": st.column_config.TextColumn("Patient", pinned=True),
            "name": st.column_config.TextColumn("Name"),
            "severity": st.column_config.MultiselectColumn(
                "Open flag", options=[SEVERITY_LABELS[s] for s in TRIAGE_ORDER],
                color=[TABLE_COLOURS[s] for s in TRIAGE_ORDER],
                help="The most severe flag of the latest treatment's course."),
            "distance": st.column_config.NumberColumn(
                "Distance (sd)", format="%+.1f",
                help="Latest good photo: redness above (+) or below (−) the expected curve, in standard "
                     "deviations of its measurement noise."),
            "cant_tell": st.column_config.TextColumn(
                "Can't tell yet", help="Why the photos cannot yet show whether the recovery is as expected "
                                       "(too far, light not corrected, ...); empty when they can."),
            "flags": st.column_config.ListColumn("Flags"),
            "what_to_do": st.column_config.TextColumn("What to do", width="large"),
            "days_since_treatment": st.column_config.NumberColumn("Days since treatment", format="%.0f"),
            "last_photo": st.column_config.DateColumn("Last photo", format="D MMM YYYY"),
            "photos": st.column_config.NumberColumn("Photos"),
            "status": st.column_config.TextColumn("Status"),
        },
    )


def choose_patient(table: pd.DataFrame) -> tuple[str, str]:
    """The patient (from the triage table, in its order) and the region to show."""
    rows = {r.pseudonym: r for r in table.itertuples(index=False)}

    def label(p: str) -> str:
        r = rows[p]
        name = f" · {r.name}" if r.name else ""
        return f"{p}{name} · {SEVERITY_LABELS[r.severity]}"

    top = st.columns([2, 3])
    with top[0]:
        patient = st.selectbox("Patient", list(rows), format_func=label, key="practitioner-patient")
    with top[1]:
        region = st.segmented_control("Area", REGION_CHOICES, default="face", key="practitioner-region",
                                      format_func=lambda r: r.replace("_", " ").capitalize()) or "face"
    return patient, region


def course_detail(view: CourseView) -> DeltaGenerator:
    """The headline numbers, the chart and the flags of one course; returns the slot where the
    report's button goes (filled last, so the page shows first)."""
    worst = view.worst_severity or "none"
    z, z_day = view.distance
    m = st.columns(4)
    m[0].markdown(f"**Open flag**  \n:{BADGE[worst]}-badge[{SEVERITY_LABELS[worst]}]")
    m[1].metric("Days since treatment", f"{view.hours_now / 24:.0f}")
    m[2].metric("Distance from expected", f"{z:+.1f} sd" if math.isfinite(z) else "–",
                help="The latest good photo's redness above (+) or below (−) the expected curve, in standard "
                     "deviations of its measurement noise" + (f" (day {z_day:.1f})." if z_day is not None else "."))
    m[3].metric("Photos in this course", len(view.points))
    report_slot = st.container()

    s = view.series
    st.altair_chart(recovery_chart(view), width="stretch", key="practitioner-chart")
    st.caption(
        f"Redness above baseline (erythema index) against the expected course (half-life about "
        f"{s.course.half_life_h:.0f} h). Dark band: normal healing speeds; light band: measurement noise; dots: "
        "photos with ± 2 sd; triangles: poor photos; dashed lines: flags."
        + (f" Changes under {s.smallest_real_change:.2f} EI between two photos can be measurement noise."
           if s.smallest_real_change else ""))
    for note in s.notes:
        st.caption(note)

    st.markdown("**Flags**")
    if view.flags.empty:
        st.write("No flags: the course so far is within the expected range.")
    for f in view.flags.itertuples(index=False):
        with st.container(border=True):
            st.markdown(f":{BADGE[f.severity]}-badge[{SEVERITY_LABELS[f.severity]}] "
                        f"**{f.code.replace('_', ' ')}** · day {f.day:.1f}"
                        + (f" · {md_text(f.file)}" if isinstance(f.file, str) and f.file else ""))
            st.write(f.message)
    if s.skipped:
        with st.expander(f"{len(s.skipped)} photo(s) left out of the course"):
            for file, reason in s.skipped:
                st.write(f"**{md_text(file)}**: {md_text(reason)}")
    return report_slot


def photo_strip(store: Store, actor: Actor, patient: str, view: CourseView) -> None:
    """The course's photos, one a day, lined up with the first good one."""
    st.markdown("**Photos, lined up with the first one**")
    try:
        by_sha = {p.sha256: p for p in timeline(store, patient, view.treatment, actor=actor)}
        course = [by_sha[sha] for sha in view.points["sha256"] if sha in by_sha]
        daily: dict[int, object] = {}
        for p in course:
            daily.setdefault(round(p.day) if p.day is not None else -10**6, p)
        strip = list(daily.values())[:STRIP_MAX]
        ref = next((p for p in strip if p.quality_ok), strip[0]) if strip else None
        faces = {} if ref is None else state.patient_memo(
            patient, "practitioner-strip-" + "-".join(p.sha256[:12] for p in strip),
            lambda: aligned_faces(store, state.analyzer(), strip, ref, 200, actor=actor))
    except Exception as e:  # noqa: BLE001
        strip, faces = [], {}
        st.error(md_text(plain_message(e)))
    cols = st.columns(7)
    for i, p in enumerate(strip):
        img = faces.get(p.sha256)
        caption = (f"day {p.day:+.1f}" if p.day is not None else "undated") + ("" if p.quality_ok else " · poor photo")
        with cols[i % 7]:
            if isinstance(img, str) or img is None:
                st.caption(f"{caption}: not shown. {md_text(img or '')}")
            else:
                st.image(img, caption=caption, width="stretch")


def report_button(store: Store, actor: Actor, patient: str, region: str, view: CourseView) -> None:
    """The printable report of the patient's latest course (made once a day per course state)."""
    last_sha = str(view.points["sha256"].iloc[-1])
    key = (f"practitioner-report-{view.treatment_id}-{region}-{len(view.points)}-{last_sha[:12]}-{len(view.flags)}-"
           f"{datetime.now(UTC):%Y-%m-%d}")
    try:
        with st.spinner("Preparing the report…"):
            report = state.patient_memo(patient, key,
                                        lambda: report_html(store, state.analyzer(), patient, actor=actor,
                                                            region=region))
    except Exception as e:  # noqa: BLE001
        st.error(f"The report could not be prepared. {md_text(plain_message(e))}")
    else:
        st.download_button(
            "Download the report (HTML, printable)", data=report.encode("utf-8"), file_name=report_file_name(patient),
            mime="text/html", on_click="ignore", icon=":material/download:", key="practitioner-report",
            help="Charts, key photos, flags and every photo's numbers in one file; open it in a browser and print "
                 "it or save it as PDF. It contains health data.")


def new_patient_and_invite(store: Store, actor: Actor, caseload: list[str]) -> None:
    """A new patient (who joins this practitioner's caseload) and a patient's one-time invite
    code, shown once."""
    left, right = st.columns(2)
    if may(store, actor, "patient.create"):
        with left, st.expander("New patient", icon=":material/person_add:"):
            created = new_patient_form(store, actor)
            if created is not None:
                st.success(f"Patient {md_text(created)} created. Invite them below so they can add "
                           "their photos.")
    if caseload:
        with right, st.expander("Invite a patient", icon=":material/key:"):
            who = st.selectbox("Patient", caseload, key="invite-patient")
            if st.button("Make an invite code", key="invite"):
                try:
                    code = create_invite(store, who, actor=actor)
                except Exception as e:  # noqa: BLE001
                    st.error(md_text(plain_message(e)))
                else:
                    st.success(f"Invite code for {md_text(who)}: give it to the patient; it is shown only now.")
                    st.code(code, language=None)
                    st.caption(f"Valid for {INVITE_VALID_S // 86400} days, once. On the sign-in page the patient "
                               "opens **Activate your account** and types it with the username and password "
                               "they choose.")


def page() -> None:
    """The triage table, then one patient's course, photos and report."""
    st.title("Practitioner")
    actor = state.actor()
    try:
        store = state.store()
        table = triage(store, actor=actor)
    except Exception as e:  # noqa: BLE001 - shown in plain words
        st.error(md_text(plain_message(e)))
        return
    new_patient_and_invite(store, actor, list(table["pseudonym"]))
    if table.empty:
        if actor.role == "admin" and store_is_empty(store):
            st.info("There are no patients yet. To look around with the four demo patients, open the Patient page "
                    "and press **Load the demo patients**.")
            st.page_link(page_path("patient"), label="Open the Patient page", icon=":material/face:")
        else:
            st.info("No patients are assigned to you yet: create one with **New patient** above, or ask the "
                    "clinic's admin to assign them.")
        return
    triage_table(table)

    st.subheader("Patient detail")
    patient, region = choose_patient(table)
    try:
        view = course_view(store, patient, actor=actor, region=region)
    except Exception as e:  # noqa: BLE001
        st.error(md_text(plain_message(e)))
        return
    if view is None:
        st.info("No treatment is recorded for this patient yet: add it on the Patient page to follow the recovery.")
        return
    if not view.has_points:
        st.info("No analysed photo of this treatment yet.")
        return
    report_slot = course_detail(view)
    photo_strip(store, actor, patient, view)
    with report_slot:
        report_button(store, actor, patient, region, view)


page()
