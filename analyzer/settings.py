"""Thresholds and defaults of the measurement core, as one frozen object.

Every field carries its unit and where its value comes from.  Code takes a
:class:`Settings` (default :data:`DEFAULT`) instead of reading module constants, so a test or a
protocol can change one value with :func:`dataclasses.replace`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Settings", "DEFAULT", "DASHBOARD_ADDRESS", "DASHBOARD_PORT", "MAX_FILES_PER_UPLOAD", "MAX_UPLOAD_MB"]

MAX_FILES_PER_UPLOAD = 20
"""Photos one dashboard upload may carry.  A patient sends one to a few selfies a day; a
practitioner catching up sends a few dozen at most.  Each photo is analysed in the request
(about 1 s and up to a few hundred MB at the pixel cap), so an unbounded upload ties up the
server's memory and time: more files are refused as a whole, nothing imported, with the fix
(send them in parts).  The folder import and the batch (operators, command line) have no cap."""

MAX_UPLOAD_MB = 25
"""Largest file one upload may carry, in MB as Streamlit counts them.  A 48 MP HEIC is about
10 MB, a 50 MP JPEG at high quality 15-20 MB.  Owner of the value: this constant.  The upload
widget passes it (``st.file_uploader(..., max_upload_size=MAX_UPLOAD_MB)``), and so does
``skin-analyzer dashboard`` as Streamlit's ``server.maxUploadSize`` for the whole server
(``analyzer/ui/server.py``)."""

DASHBOARD_ADDRESS = "127.0.0.1"
"""Where ``skin-analyzer dashboard`` listens unless told otherwise: this machine only (patient
photos are health data).  A clinic serves it behind a TLS reverse proxy on this same address
(docs/deploy.md)."""

DASHBOARD_PORT = 8501
"""The dashboard's port unless told otherwise (Streamlit's usual one)."""


@dataclass(frozen=True)
class Settings:
    # --- intake ------------------------------------------------------------------------------
    max_upload_pixels: int = 50_000_000
    """The selfie pixel cap: the largest photo accepted, in pixels (width x height as the header
    claims, checked before any pixel is decoded, and again on the stored copy).  Phones save
    12 MP by default and 48-50 MP at most in their full-resolution modes, front cameras included
    (8160 x 6120 = 49.9 MP sensors; iPhone 48 MP = 8064 x 6048); the 108-200 MP modes of some
    rear cameras are not selfies.  Memory: a 16-bit PNG or TIFF needs twice the memory of an
    8-bit photo per pixel, so it is accepted up to half the cap (25 MP).  At the cap, decoding
    holds about 50e6 x 3 B = 150 MB (8-bit) or 25e6 x 6 B = 150 MB (16-bit) of pixels, with
    a few working copies of that size at most; JPEGs are decoded with DCT scaling, far less.
    A 7740 x 7740 16-bit PNG of 0.36 MB (59.9 MP) took 767 MB to decode before this cap."""

    decode_min_long_side: int = 1800
    """px.  JPEGs are decoded with DCT scaling (1/2, 1/4, 1/8) to the smallest size whose long
    side is still at least this; a selfie face then spans roughly 600-1000 px, above
    ``texture_px_per_mm`` x face width (140 mm).  Our choice, checked by ``bench/photo.py``."""

    min_image_side: int = 64
    """px.  Smaller images cannot hold a measurable face."""

    # --- face and scale ------------------------------------------------------------------------
    iris_diameter_mm: float = 11.7
    """Horizontal visible iris diameter of adults, mm (about 11.7 +/- 0.5 mm; docs/science.md#physical-scale,
    used by MediaPipe's own iris depth estimate)."""

    min_face_width_px: float = 200.0
    """px in the original image.  Below this the regions hold too few pixels for texture."""

    # --- quality gate -----------------------------------------------------------------------------
    max_yaw_deg: float = 20.0
    max_pitch_deg: float = 20.0
    max_roll_deg: float = 20.0
    """Degrees of head rotation beyond which cheeks are seen obliquely and their colour and area
    change (our choice; rPPG practice keeps |yaw| < 20-30 deg)."""

    min_sharpness: float = 0.19
    """Variance of the Laplacian of the skin's 8-bit sRGB luminance at ``texture_px_per_mm``,
    skin median scaled to level 128, in levels^2.  Below it the photo is blurred (measure:
    Pech-Pacheco et al. 2000; threshold ours: sharp 0.24-0.27 vs 0.13-0.15 after a 2 px Gaussian
    blur on the astronaut upscaled x2-x8, see face/quality.py).  Re-check on real selfies."""

    clipped_level: float = 250 / 255
    """Fraction of the encoded full scale (250 of 255 8-bit levels, 64250 of 65535 at 16 bits;
    linear 0.956) at or above which a channel counts as clipped white, its colour unknown (our
    choice; docs/science.md, Confounders).  Used by the quality gate (``overexposed``), the
    pipeline's measured pixels and the card-free balance's context."""

    dark_level: float = 5 / 255
    """Fraction of the encoded full scale (5 of 255 levels; linear 0.0015) at or below which a
    channel counts as crushed black (our choice; docs/science.md, Confounders).  Used by the
    quality gate (``underexposed``) and the pipeline's measured pixels."""

    max_clipped_fraction: float = 0.02
    """Fraction of skin pixels with a channel at >= ``clipped_level`` (or <= ``dark_level``)
    above which exposure makes the numbers unreliable (our choice)."""

    min_skin_fraction: float = 0.5
    """Fraction of a region's polygon kept as skin below which the region is occluded
    (hair, beard, glasses, hands) and its numbers are not reported as reliable."""

    # --- measurement scale ------------------------------------------------------------------------
    texture_px_per_mm: float = 4.0
    """px/mm.  Every region is resampled to this before texture and flaking are measured
    (0.25 mm per pixel: flakes of 0.5-2 mm span 2-8 px).  docs/science.md#physical-scale: texture changes by
    25-60 % when resolution halves, so a fixed physical scale is required."""

    texture_sigma_mm: float = 1.0
    """mm.  Gaussian scale separating fine texture (below) from shading and shape (above)."""

    flake_min_mm: float = 0.3
    flake_max_mm: float = 2.0
    """mm.  Diameter range of a flake (small bright speck)."""

    flake_threshold_k: float = 5.0
    """Detection threshold in robust standard deviations (MAD x 1.4826) of the skin's own
    top-hat response (our choice, checked on synthetic discs in tests/test_measure_texture.py)."""

    flake_min_contrast: float = 0.095
    """ln units (= ln 1.1): a flake is at least 10 % brighter than the skin around it."""

    # --- colour -------------------------------------------------------------------------------------
    chart_search: bool = True
    """Look for a ColorChecker 24 in every photo."""

    chart_detector: str = "lattice"
    """A key of ``analyzer.colour.chart_detect.CHART_DETECTORS``.  "lattice" (ours) found the chart in
    200 of 200 random synthetic scenes at 4 ms per photo without a chart; OpenCV's "mcc" missed or
    misplaced 7 % of 60 scenes and costs 13-35 ms (measured, see colour/chart_detect.py)."""

    chart_search_long_side: int = 1000
    """px.  The chart is searched on a copy downscaled to this long side (speed)."""

    balance_method: str = "sclera"
    """Card-free normalisation used when no chart is found; a key of
    ``analyzer.colour.balance.BALANCE_METHODS``.  Chosen by measurement (docs/metrics.md):
    against light casts left over by a phone's white balance, and rooms of other colours, the
    whites of the eyes are the only reference that holds.  Whole pipeline, astronaut portrait at
    selfie resolution, JPEG q88, small shifts, 3 exposures x 2 scenes: face erythema index spread
    0.97 EI (19 % of the day-1 effect) on lights not used for tuning (3200, 4000, 7500 K) against
    about 21 EI (over 400 %) without correction.  Falls back to ``none`` (reported, with the
    quality note ``light_not_corrected``) when the sclera is too small or not visible."""


    # --- measurement noise (for the recovery curve's noise band) -----------------------------
    redness_noise_sd_card_free_ei: float = 0.41
    """Erythema-index units: standard deviation of face.redness at baseline over held-out lights
    (3200, 4000, 7500 K at half strength) x exposures 0.8-1.2 x 3 rooms, with small pose changes
    and JPEG q88, card-free (sclera).  Measured by ``python -m analyzer.validate`` (worst of the
    two base faces: 0.38 and 0.41); docs/validation.md."""

    redness_noise_sd_chart_ei: float = 0.13
    """The same with a ColorChecker in the frame (0.13 and 0.10)."""


DEFAULT = Settings()
