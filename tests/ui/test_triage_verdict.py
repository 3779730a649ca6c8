"""The verdict in triage and on the patient page: a patient whose photos are too far to judge is
listed as "can't tell yet", before the patients whose course is judged as expected, with the
advice to come closer, and never reassured."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from PIL import Image

from analyzer.service.imports import import_photo_bytes
from analyzer.ui.services.common import DEMO_TREATED_AT, open_app_store
from analyzer.ui.services.patient import course_view, save_treatment
from analyzer.ui.services.practice import report_html, triage
from tests.ui.conftest import OP, demo_copy, new_patient

NORMAL = Path(__file__).resolve().parents[2] / "sample_images" / "normal"
FAR = "P-FAR"


def _far(data: bytes) -> bytes:
    """The photo at half size (about 2.3 px/mm, a far selfie), EXIF kept."""
    im = Image.open(io.BytesIO(data))
    exif = im.info.get("exif", b"")
    buf = io.BytesIO()
    im.resize((im.width // 2, im.height // 2), Image.LANCZOS).save(buf, "JPEG", quality=88, exif=exif)
    return buf.getvalue()


def test_far_photos_are_cant_tell_yet_in_triage_and_on_the_patient_page(tmp_path, demo_template, az):
    with open_app_store(demo_copy(demo_template, tmp_path / "store")) as store:
        new_patient(store, FAR, "Far away")
        save_treatment(store, FAR, DEMO_TREATED_AT, 1.0, actor=OP)
        for f in sorted(NORMAL.glob("*.jpg"))[:6]:  # baseline, 3 h, days 1-4
            out = import_photo_bytes(store, FAR, f.name, _far(f.read_bytes()), az, actor=OP)
            assert out.status == "imported", out.reason

        table = triage(store, now=DEMO_TREATED_AT + timedelta(days=10), actor=OP)
        far = table.set_index("pseudonym").loc[FAR]
        assert far["verdict"] == "inconclusive"
        assert "too far" in far["cant_tell"] and far["severity"] == "none"
        assert far["what_to_do"].startswith("Your face is too small")
        # DEMO-1 heals as expected at selfie resolution: it can tell, so it comes after.
        order = list(table["pseudonym"])
        assert table.set_index("pseudonym").loc["DEMO-1", "verdict"] == "as_expected"
        assert table.set_index("pseudonym").loc["DEMO-1", "cant_tell"] == ""
        assert order.index(FAR) < order.index("DEMO-1")

        view = course_view(store, FAR, actor=OP)
        a = view.series.assessment
        assert a.status == "inconclusive" and a.headline == "We can't tell yet from these photos."
        after = view.points[view.points["hours"] >= 0]
        # At 2.3 px/mm the photos' own light correction fails; those whose two eyes agree are
        # matched onto the baseline's light (analyzer/recovery/relative.py), the others are not
        # used for redness: 2 of the 5 here.
        assert set(after["quality"]) == {"light not corrected", "light matched through the eyes"}
        assert list(after["colour_ok"]) == list(after["quality"] == "light matched through the eyes")

        report = report_html(store, az, FAR, with_overlay=False, actor=OP)
        assert "No open flags, but the photos cannot tell yet (too far" in report
        assert "within the expected range" not in report
