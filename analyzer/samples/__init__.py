"""Synthetic daily selfies after micro-needling, with ground truth: ``python -m analyzer.samples``.

A physically based generator of photo series for testing the analyzer end to end.  The face is
NASA's public-domain portrait of astronaut Eileen Collins (``skimage.data.astronaut()``),
upscaled 6x in linear light into a 3:4 phone frame (about 4.4 px/mm on the face; fine texture is
therefore synthetic).  A second, held-out face is available with ``face="hopper"``: the U.S.
Navy's public-domain portrait of Grace Hopper, shipped with matplotlib (checked by SHA-256),
and a third with ``face="luispedro"``: Luis Pedro Coelho's portrait of himself, shipped with
mahotas (MIT; checked by SHA-256).  On it, per photo:

* **skin** -- excess haemoglobin and melanin as optical density (Tsumura vectors, Beer-Lambert)
  in blotchy patterns fixed per series, dryness as fine roughness, peeling as whitish flakes of
  0.3-1.5 mm at a given density per cm^2;
* **room** -- the wall and clothes repainted (bathroom, bedroom_blue, kitchen_yellow,
  office_green), face skin untouched;
* **light** -- the colour cast that imperfect auto white balance leaves (black-body/daylight
  CCT relative to D65, residual = full ** (1 - strength)) and exposure, on the whole frame;
  or face-metered exposure (``Day.metered_luminance``), as phones meter on the face;
* **camera** -- small pose changes, Poisson-Gaussian noise, JPEG with EXIF capture time.

Public API
----------
Light, NEUTRAL                     the light of one photo
Day                                what one photo shows (skin state, light, room)
render_day(day, rng=, size=)       -> uint8 sRGB (H, W, 3), before JPEG
render_photo(day, rng=, size=)     -> Rendering (the image plus pose and flake count)
write_photo(path, rgb, captured_at=)   JPEG with EXIF DateTimeOriginal (+ OffsetTimeOriginal)
encode_photo(rgb, captured_at=)        the same JPEG as bytes
metered_exposure, METERED_FACE_LUMINANCE  face-metered exposure
COURSES, Course                    "normal", "persistent_redness", "redness_rebound", "darkening"
generate_course(out_dir, course, seed=)  photos + ground_truth.json
SCENES, Scene                      the rooms
BASES, BaseSource                  the base faces: "astronaut" (default, tuned on), "hopper" and
                                   "luispedro" (held out)
BASE_PHOTO, DEFAULT_SIZE, TREATED_AT, GENERATOR_VERSION   provenance and defaults
illuminant_xy, full_cast_gains, residual_gains           the light model

Examples
--------
>>> sorted(COURSES)
['darkening', 'normal', 'persistent_redness', 'redness_rebound']
>>> len(COURSES["normal"]())                      # baseline, +3 h, days 1-14
16
"""

from ._bases import BASES, BaseSource
from ._courses import COURSES, GENERATOR_VERSION, TREATED_AT, Course, generate_course, photo_name
from ._face import BASE_PHOTO, DEFAULT_SIZE, Pose
from ._light import NEUTRAL, Light, full_cast_gains, illuminant_xy, residual_gains
from ._render import (
    METERED_FACE_LUMINANCE,
    Day,
    Rendering,
    encode_photo,
    metered_exposure,
    render_day,
    render_photo,
    write_photo,
)
from ._scene import SCENES, Scene

__all__ = [
    "BASES",
    "BASE_PHOTO",
    "COURSES",
    "DEFAULT_SIZE",
    "GENERATOR_VERSION",
    "METERED_FACE_LUMINANCE",
    "NEUTRAL",
    "SCENES",
    "TREATED_AT",
    "BaseSource",
    "Course",
    "Day",
    "Light",
    "Pose",
    "Rendering",
    "Scene",
    "encode_photo",
    "full_cast_gains",
    "generate_course",
    "illuminant_xy",
    "metered_exposure",
    "photo_name",
    "render_day",
    "render_photo",
    "residual_gains",
    "write_photo",
]
