"""Patient page: the patient (a patient account's own record; a practitioner's caseload or, for
an admin, every patient, in a picker), the treatment, photos, the recovery course, the flags,
today's aftercare, the diary, the photo timeline and the consents.

Streamlit script (run by ``serve/app.py``); everything it knows comes from ``analyzer.ui.services``, called with
the signed-in user (``actor``), so the use cases check and audit every read and change.  Each
section is a function of its explicit inputs (the store, the actor, the patient, the
treatment); the page's last lines wire them together.  ``?patient=PSEUDONYM`` opens that
patient for whoever may see them; anyone else sees only a refusal (audited).
"""

from __future__ import annotations

from datetime import datetime, time

import pandas as pd
import streamlit as st

from analyzer.errors import plain_message
from analyzer.recovery.assessment import Assessment
from analyzer.recovery.treatment import Treatment
from analyzer.service.access import Actor, PermissionDenied, may
from analyzer.store.db import Store, StoreError
from analyzer.ui import state
from analyzer.ui.charts import metric_chart, recovery_chart
from analyzer.ui.forms import new_patient_form
from analyzer.ui.services.common import DEMO_PATIENTS, load_demo, md_text, store_is_empty, visible
from analyzer.ui.services.patient import (
    DIARY_SYMPTOMS,
    MAX_FILES_PER_UPLOAD,
    REGION_CHOICES,
    add_diary,
    aligned_faces,
    baseline_outline,
    consent_view,
    course_view,
    give_consent,
    overlay_image,
    save_treatment,
    set_photo_time,
    timeline,
    treatments,
    upload_photos,
    withdraw_consent,
)
from analyzer.vocab import METRICS, PHOTO_EXTENSIONS

# Comments, not docstrings, below: a bare string in a page script is shown on the page.
UPLOAD_TYPES = [e.lstrip(".") for e in PHOTO_EXTENSIONS]
# Every file ending the analyzer reads as a photo.
SMALL_CHARTS = ("flaking", "texture", "melanin")
METRIC_TITLES = {m.key: m.label for m in METRICS}
SEVERITY_WORD = {"urgent": "Contact your practitioner", "warning": "Keep an eye on this", "info": "For information"}
GUIDANCE = (
    "Same place and about the same time each day, facing a window (daylight, no direct sun).",
    "No makeup, no filter, no flash; glasses off; hair away from the forehead.",
    "Neutral face, eyes open, looking straight into the camera at arm's length.",
    "Fill the outline below with your face: same distance and angle as your first photo.",
    "Put the colour card beside your face if you have one: it makes redness more precise.",
)
NOT_AVAILABLE = "This record is not available to your account."
# What anyone sees who opens a record (?patient=...) they may not see; nothing else of it is shown.
NO_CARE_CONSENT = ("Photos can only be added once care consent is recorded. Open the **Consent** tab above, "
                   "read the care consent and press **I consent** (or ask your practitioner to record it).")
# The upload area's message without care consent.


def _demo_offer(store: Store, actor: Actor) -> None:
    st.info("There are no patients yet. Load the demo patients to see a full dashboard: four people "
            "after micro-needling, made from the sample photos that come with the software.")
    if st.button("Load the demo patients", type="primary", key="load-demo"):
        bar = st.progress(0.0, text="Analysing the demo photos…")
        try:
            load_demo(store, state.analyzer(), progress=lambda f, text: bar.progress(f, text=text), actor=actor)
        except Exception as e:  # noqa: BLE001 - shown in plain words
            st.error(md_text(plain_message(e)))
            return
        st.session_state["patient"] = DEMO_PATIENTS[0].pseudonym
        st.rerun()


# --- who ------------------------------------------------------------------------------------------
def choose_patient(store: Store, actor: Actor, patients: list) -> str:
    """The patient picker (only the patients ``actor`` may open) and, for whoever may create
    patients, the new-patient form; returns the chosen pseudonym."""
    labels = {p.pseudonym: (f"{p.display_name} ({p.pseudonym})" if p.display_name else p.pseudonym)
              for p in patients}
    names = list(labels)
    if "patient-next" in st.session_state:  # chosen by a form below, on the previous run
        st.session_state["patient"] = st.session_state.pop("patient-next")
    if st.session_state.get("patient") not in labels:
        st.session_state["patient"] = names[0]
    top = st.columns([3, 2])
    with top[0]:
        patient = st.selectbox("Patient", names, format_func=labels.get, key="patient")
    if may(store, actor, "patient.create"):
        with top[1], st.popover("New patient", icon=":material/person_add:"):
            created = new_patient_form(store, actor)
        if created is not None:
            st.session_state["patient-next"] = created
            st.rerun()
    return patient


def treatment_form(store: Store, actor: Actor, patient: str, latest: Treatment | None) -> None:
    """The latest treatment in the heading, and the form that records a new one."""
    with st.expander("Treatment" + (f": {latest.treated_at:%d %b %Y, %H:%M}, {latest.needle_depth_mm:g} mm"
                                    if latest is not None else " (none recorded yet)"),
                     expanded=latest is None), st.form("treatment"):
        c = st.columns(3)
        day = c[0].date_input("Date of the treatment", value=datetime.now().date())
        at = c[1].time_input("Time it ended", value=time(9, 0))
        depth = c[2].number_input("Needle depth (mm)", min_value=0.25, max_value=2.5, value=1.0, step=0.25)
        if st.form_submit_button("Save treatment"):
            try:
                save_treatment(store, patient, datetime.combine(day, at), depth, actor=actor)
            except Exception as e:  # noqa: BLE001
                st.error(md_text(plain_message(e)))
            else:
                state.forget_patient(patient)
                st.rerun()


# --- recovery ----------------------------------------------------------------------------------------
def verdict(a: Assessment, *, urgent: bool = False) -> None:
    """The course's verdict, first on the page: as expected, needs attention, or can't tell yet
    with what would resolve it."""
    text = f"**{a.headline}**\n\n{a.advice}" if a.status != "needs_attention" else (
        f"**{a.headline}** See what we noticed below.")
    box = {"as_expected": st.success, "inconclusive": st.info}.get(a.status, st.error if urgent else st.warning)
    box(text, icon={"as_expected": ":material/check_circle:", "inconclusive": ":material/help:"}.get(
        a.status, ":material/warning:"))


def recovery_tab(store: Store, actor: Actor, patient: str) -> None:
    """The latest treatment's chart, the flags, today's aftercare and the other measures."""
    region = st.segmented_control("Area", REGION_CHOICES, default="face", key="region",
                                  format_func=lambda r: r.replace("_", " ").capitalize()) or "face"
    try:
        view = course_view(store, patient, actor=actor, region=region)
    except Exception as e:  # noqa: BLE001
        view = None
        st.error(md_text(plain_message(e)))
    if view is None:
        st.info("Record the treatment (above) to see your recovery against the expected course.")
    elif not view.has_points:
        st.info("Add photos to see your recovery: one before the treatment if you can, then one a day.")
    else:
        s = view.series
        verdict(s.assessment, urgent=view.worst_severity == "urgent")
        st.subheader("Redness since the treatment")
        st.altair_chart(recovery_chart(view), width="stretch", key="recovery-chart")
        st.caption(
            "Redness is the erythema index (EI) above your own skin before the treatment. "
            f"Line: the expected course (redness halves about every {s.course.half_life_h:.0f} h). Green band: "
            f"normal healing speeds. Grey band: what the light and camera alone can move "
            f"(± {2 * (view.curve['noise_high'] - view.curve['expected']).iloc[0] / 2:.1f}). "
            f"Dots: your photos with their uncertainty; triangles: photos of poor quality. "
            + (f"Changes smaller than {s.smallest_real_change:.1f} between two photos can come from the light."
               if s.smallest_real_change else "")
        )
        for note in s.notes:
            st.caption(note)
        left, right = st.columns([3, 2])
        with left:
            st.subheader("What we noticed")
            if view.flags.empty:
                st.write("No warning signs in your photos so far." if s.assessment.status == "as_expected" else
                         "No warning signs found, but the photos cannot show everything yet (see the top of "
                         "the page).")
            for f in view.flags.itertuples():
                box = {"urgent": st.error, "warning": st.warning}.get(f.severity, st.info)
                box(f"**{SEVERITY_WORD[f.severity]}** · {f.code.replace('_', ' ')} · day {f.day:.1f}\n\n{f.message}")
        with right:
            st.subheader("Aftercare today")
            if view.hours_now < 0:
                st.write("Your treatment is still ahead.")
            for i, text in enumerate(view.aftercare_now):
                st.checkbox(text, key=f"aftercare-{patient}-{int(view.hours_now // 24)}-{i}")
            st.caption(f"Day {max(view.hours_now, 0) / 24:.0f} after your treatment.")
        st.subheader("Peeling, texture and pigment")
        st.caption("Change from before the treatment; grey band: what the light and camera alone can move.")
        cols = st.columns(3)
        for col, metric in zip(cols, SMALL_CHARTS, strict=True):
            with col:
                st.markdown(f"**{METRIC_TITLES[metric]}**")
                st.altair_chart(metric_chart(view, metric), width="stretch", key=f"metric-{metric}")
        if s.skipped:
            with st.expander(f"{len(s.skipped)} photo(s) not on the chart"):
                for f, reason in s.skipped:
                    st.write(f"**{md_text(f)}**: {md_text(reason)}")

# --- add photos ---------------------------------------------------------------------------------------
def add_photos_tab(store: Store, actor: Actor, patient: str, treatment: Treatment | None,
                   care_consent: bool) -> None:
    """Capture guidance, the uploader with per-photo verdicts (or, without care consent, how to
    give it), and capture times."""
    photos = timeline(store, patient, treatment, actor=actor)
    guide, drop = st.columns([2, 3])
    with guide:
        st.subheader("Taking a good photo")
        for g in GUIDANCE:
            st.markdown(f"- {g}")
        base = next((p for p in photos if p.quality_ok), None)
        if base is not None:
            try:
                outline = state.patient_memo(patient, f"outline-{base.sha256}",
                                             lambda: baseline_outline(store, state.analyzer(), base, 300,
                                                                      actor=actor))
                st.image(outline, caption="Line your face up with this outline of your first photo.", width=300)
            except Exception as e:  # noqa: BLE001
                st.caption(md_text(plain_message(e)))
    with drop:
        st.subheader("Add photos")
        n = st.session_state.setdefault("upload-round", 0)
        if not care_consent:
            st.warning(NO_CARE_CONSENT, icon=":material/lock:")
            files = None
        else:
            files = st.file_uploader("Photos from your phone (JPEG, PNG, WebP, HEIC, TIFF; any rotation; "
                                     f"at most {MAX_FILES_PER_UPLOAD} at a time)", type=UPLOAD_TYPES,
                                     accept_multiple_files=True, key=f"upload-{n}")
        if files and len(files) > MAX_FILES_PER_UPLOAD:
            st.error(f"{len(files)} photos chosen: at most {MAX_FILES_PER_UPLOAD} can be added at once. Remove "
                     f"some and add them afterwards; nothing was added.")
        elif files and st.button(f"Analyse {len(files)} photo(s)", type="primary", key="analyse"):
            bar = st.progress(0.0, text="Starting…")
            try:
                verdicts = upload_photos(
                    store, state.analyzer(), patient, [(f.name, f.getvalue()) for f in files],
                    progress=lambda i, total, name: bar.progress(i / max(total, 1),
                                                                 text=f"Analysing {name} ({i + 1} of {total})"
                                                                 if name else "Done"), actor=actor)
            except Exception as e:  # noqa: BLE001 - too many files, no consent: nothing was imported
                bar.empty()
                st.error(md_text(plain_message(e)))
            else:
                st.session_state["verdicts"] = (patient, verdicts)
                st.session_state["upload-round"] = n + 1
                state.forget_patient(patient)
                st.rerun()
        who, verdicts = st.session_state.get("verdicts", (None, []))
        if who == patient and verdicts:
            st.subheader("Your photos")
            for v in verdicts:
                if v.status == "failed":
                    st.error(f"**{md_text(v.name)}**: not added. {md_text(v.message)}")
                    continue
                when = f"{v.captured_at:%d %b %Y, %H:%M}" if v.captured_at else "no date found: set it below"
                head = f"**{md_text(v.name)}** · {when} · " + ("already added" if v.status == "unchanged" else "added")
                if v.quality_ok:
                    st.success(head + " · good photo" + "".join(f"\n\n{m}" for c, m, b in v.problems))
                else:
                    st.warning(head + " · measured, but less reliable. Please retake:" +
                               "".join(f"\n\n- {m}" for c, m, b in v.problems))
    if photos:
        with st.expander("When were the photos taken? (edit if a date is wrong or missing)"):
            # Times as the phone's clock showed them (wall clock); a photo's UTC offset, when known,
            # is kept on save.  (The editor does not edit zone-aware columns.)
            table = pd.DataFrame({"photo": [p.file for p in photos],
                                  "taken": [p.captured_at.replace(tzinfo=None) if p.captured_at else None
                                            for p in photos]})
            edited = st.data_editor(
                table, hide_index=True, disabled=["photo"], key=f"times-{patient}",
                column_config={"taken": st.column_config.DatetimeColumn("taken", format="D MMM YYYY, HH:mm",
                                                                        step=60)})
            if st.button("Save times", key="save-times"):
                changed = 0
                for old, new in zip(photos, edited.itertuples()):
                    if new.taken is None or pd.isna(new.taken):
                        continue
                    when = pd.Timestamp(new.taken).to_pydatetime()
                    before = old.captured_at.replace(tzinfo=None) if old.captured_at else None
                    if before == when:
                        continue
                    zone = old.captured_at.tzinfo if old.captured_at is not None else None
                    set_photo_time(store, patient, old.sha256, when.replace(tzinfo=zone), actor=actor)
                    changed += 1
                state.forget_patient(patient)
                st.success(f"Saved {changed} time(s).")

# --- diary --------------------------------------------------------------------------------------------
def diary_tab(store: Store, actor: Actor, patient: str) -> None:
    """The symptom diary."""
    st.subheader("How do you feel today?")
    with st.form("diary", clear_on_submit=True):
        c = st.columns(2)
        when_d = c[0].date_input("Date", value=datetime.now().date(), key="diary-date")
        when_t = c[1].time_input("Time", value=datetime.now().time().replace(second=0, microsecond=0),
                                 key="diary-time")
        pain = st.slider("Pain (0 = none, 10 = worst imaginable)", 0, 10, 0)
        checks = {s: st.checkbox(s.capitalize() + {"pus": " (yellow fluid or crust)"}.get(s, ""), key=f"diary-{s}")
                  for s in DIARY_SYMPTOMS if s != "pain"}
        if st.form_submit_button("Save"):
            try:
                add_diary(store, patient, datetime.combine(when_d, when_t),
                          {"pain": pain, **{k: int(v) for k, v in checks.items()}}, actor=actor)
            except Exception as e:  # noqa: BLE001
                st.error(md_text(plain_message(e)))
            else:
                st.success("Saved. Your entries are taken into account in the flags on the Recovery tab.")
    st.caption("Call your practitioner now if swelling lasts past 72 hours, if there is pus or strong pain, "
               "or signs of an allergic reaction (hives, swelling of lips or eyes, trouble breathing: call "
               "emergency services).")

# --- photos -------------------------------------------------------------------------------------------
def timeline_tab(store: Store, actor: Actor, patient: str, treatment: Treatment | None) -> None:
    """Faces lined up with the baseline, the overlay, and the daily strip (days since
    ``treatment``)."""
    photos = [p for p in timeline(store, patient, treatment, actor=actor) if p.captured_at is not None]
    if not photos:
        st.info("No dated photos yet.")
    else:
        base = next((p for p in photos if p.quality_ok), photos[0])

        def label(p):
            return (f"day {p.day:+.1f}" if p.day is not None else f"{p.captured_at:%d %b}") + f" · {p.file}"

        chosen = st.select_slider("Day", options=photos, value=photos[-1], format_func=label, key=f"day-{patient}")
        try:
            faces = state.patient_memo(patient, f"pair-{base.sha256}-{chosen.sha256}",
                                       lambda: aligned_faces(store, state.analyzer(), [base, chosen], base, 420,
                                                             actor=actor))
        except Exception as e:  # noqa: BLE001
            faces = {}
            st.error(md_text(plain_message(e)))
        a, b = st.columns(2)
        for col, p, title in ((a, base, "Before (baseline)"), (b, chosen, "Selected day")):
            with col:
                img = faces.get(p.sha256)
                if isinstance(img, str):
                    st.warning(md_text(img))
                elif img is not None:
                    st.image(img, caption=f"{title}: {md_text(label(p))}", width="stretch")
        st.caption("Both faces are lined up with your first photo and shown with the light corrected as for "
                   "the measurements, so a difference in colour is your skin's, not the room's.")
        if st.toggle("Show regions and the redness map", key="overlay"):
            try:
                over = state.patient_memo(patient, f"overlay-{chosen.sha256}",
                                          lambda: overlay_image(store, state.analyzer(), chosen, actor=actor))
                st.image(over, caption="Left: the measured regions. Right: hemoglobin (redness) compared with "
                                       "the face's own median; warmer is redder.", width="stretch")
            except Exception as e:  # noqa: BLE001
                st.error(md_text(plain_message(e)))
        st.subheader("Timeline")
        daily: dict[int, object] = {}
        for p in photos:
            daily.setdefault(round(p.day) if p.day is not None else p.captured_at.toordinal(), p)
        days = list(daily.values())
        # At most 21 faces: every day of the first three weeks, else evenly spread (first and last kept).
        strip = days if len(days) <= 21 else [days[round(i * (len(days) - 1) / 20)] for i in range(21)]
        try:
            thumbs = state.patient_memo(patient, "strip-" + "-".join(p.sha256[:8] for p in strip),
                                        lambda: aligned_faces(store, state.analyzer(), strip, base, 200,
                                                              actor=actor))
        except Exception as e:  # noqa: BLE001
            thumbs = {}
            st.error(md_text(plain_message(e)))
        cols = st.columns(7)
        for i, p in enumerate(strip):
            img = thumbs.get(p.sha256)
            with cols[i % 7]:
                if isinstance(img, str) or img is None:
                    st.caption(f"{md_text(label(p))}: not shown")
                else:
                    st.image(img, caption=label(p).split(" · ")[0], width="stretch")


# --- consent ------------------------------------------------------------------------------------------
def consent_tab(store: Store, actor: Actor, patient: str) -> None:
    """Care and research consent: each text, give or withdraw, and its history."""
    try:
        scopes = consent_view(store, patient, actor=actor)
    except Exception as e:  # noqa: BLE001
        st.error(md_text(plain_message(e)))
        return
    for c in scopes:
        with st.container(border=True):
            st.subheader(c.title)
            st.markdown(c.text)
            st.caption(f"Text version {c.version}.")
            if c.given:
                st.success("Consent given.", icon=":material/check_circle:")
                change, label, key, kind = withdraw_consent, "Withdraw this consent", "withdraw", "secondary"
            else:
                st.info("No consent given.", icon=":material/info:")
                change, label, key, kind = give_consent, "I consent", "give", "primary"
            if st.button(label, key=f"consent-{key}-{c.scope}", type=kind):
                try:
                    change(store, patient, c.scope, actor=actor)
                except Exception as e:  # noqa: BLE001
                    st.error(md_text(plain_message(e)))
                else:
                    st.rerun()
            if c.history:
                st.dataframe(pd.DataFrame([{
                    "given": r.given_at, "text version": r.text_version or "", "recorded by": r.recorded_by or "",
                    "withdrawn": r.withdrawn_at, "withdrawn by": r.withdrawn_by or ""} for r in c.history]),
                    hide_index=True, key=f"consent-history-{c.scope}")


# --- who, from the address or the picker -----------------------------------------------------------
def _wanted(store: Store, actor: Actor) -> str | None | bool:
    """The patient named by ``?patient=`` when ``actor`` may open it (None without one; False
    when refused: the use case audited the refusal)."""
    wanted = st.query_params.get("patient")
    if not wanted or wanted == st.session_state.get("_patient-from-url"):
        return None
    try:
        treatments(store, wanted, actor=actor)  # checks (and audits) the access
    except (PermissionDenied, StoreError):
        return False
    st.session_state["_patient-from-url"] = wanted
    return wanted


def page() -> None:
    """The page: the patient, the treatment, and five lazy tabs (only the open tab's code runs;
    the timeline lines up faces, which takes time)."""
    store = state.store()
    actor = state.actor()
    wanted = _wanted(store, actor)
    if wanted is False:
        st.warning(NOT_AVAILABLE, icon=":material/block:")
        return
    if actor.role == "patient":
        patient = actor.patient
        mine = visible(store, actor=actor)
        name = mine[0].display_name if mine and mine[0].display_name else patient
        st.title(md_text(name))
        st.caption("My recovery")
    else:
        st.title("Patient")
        patients = visible(store, actor=actor)
        if not patients:
            if actor.role == "admin" and store_is_empty(store):
                _demo_offer(store, actor)
            else:
                st.info("No patients are assigned to you yet. Create one with **New patient** on the Practitioner "
                        "page, or ask the clinic's admin to assign them.")
            return
        if wanted:
            st.session_state["patient-next"] = wanted
        patient = choose_patient(store, actor, patients)
        if st.query_params.get("patient") not in (None, patient):
            st.query_params["patient"] = patient
            st.session_state["_patient-from-url"] = patient
    trs = treatments(store, patient, actor=actor)
    latest = trs[-1][1] if trs else None
    treatment_form(store, actor, patient, latest)
    care = any(c.scope == "care" and c.given for c in consent_view(store, patient, actor=actor))
    sections = {
        "Recovery": lambda: recovery_tab(store, actor, patient),
        "Add photos": lambda: add_photos_tab(store, actor, patient, latest, care),
        "Diary": lambda: diary_tab(store, actor, patient),
        "Timeline": lambda: timeline_tab(store, actor, patient, latest),
        "Consent": lambda: consent_tab(store, actor, patient),
    }
    for tab, show in zip(st.tabs(list(sections), key="tab", on_change="rerun"), sections.values(), strict=True):
        with tab:
            if tab.open:
                show()


page()
