"""When a photo was taken: EXIF date, time and UTC offset, or the date in the file name.

References
----------
JEITA CP-3451C (Exif 2.32): DateTimeOriginal (0x9003), DateTimeDigitized (0x9004),
OffsetTimeOriginal (0x9011), OffsetTimeDigitized (0x9012), SubSecTimeOriginal (0x9291),
SubSecTimeDigitized (0x9292), Exif IFD pointer (0x8769).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from PIL import ExifTags, Image

__all__ = ["capture_time_from_filename", "read_capture_time"]

_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_DATETIME_DIGITIZED = 0x9004
_TAG_OFFSET_ORIGINAL = 0x9011
_TAG_OFFSET_DIGITIZED = 0x9012
_TAG_SUBSEC_ORIGINAL = 0x9291
_TAG_SUBSEC_DIGITIZED = 0x9292


def capture_time_from_filename(name: str) -> datetime | None:
    """The capture time that phone and messenger file names carry, as a naive datetime.

    Recognised (anywhere in the base name, first valid match wins)::

        IMG_20261105_093012  PXL_20261105_093012345  20261105_093012   (milliseconds kept)
        2026-11-05 09.30.12  2026-11-05 at 09.30.12  2026-11-05_09-30-12
        Screenshot 2026-11-05 at 9.30.12 PM   Screenshot 2026-11-05 093012
        IMG-20261105-WA0001  VID-20261105-WA0001   (WhatsApp: date only, midnight)
        2026-11-05                               (date only, midnight)

    Parameters
    ----------
    name : str
        A file name or path; only the base name is searched.

    Returns
    -------
    datetime or None
        Naive (file names carry no time zone); None when no pattern gives a valid date and time
        (month 13, 30 February, hour 25, ... are rejected).

    Examples
    --------
    >>> capture_time_from_filename("PXL_20261105_093012345.jpg")
    datetime.datetime(2026, 11, 5, 9, 30, 12, 345000)
    >>> capture_time_from_filename("IMG_20261305_093012.jpg") is None
    True
    """
    base = re.split(r"[\\/]", str(name))[-1]
    rejected: list[tuple[int, int]] = []  # spans whose date or time is impossible
    for pattern in _FILENAME_PATTERNS:
        for match in pattern.finditer(base):
            start, end = match.span()
            if any(start < r_end and r_start < end for r_start, r_end in rejected):
                continue  # "2026-11-05 25.00.00" is not "2026-11-05 at midnight"
            when = _datetime_from_match(match)
            if when is not None:
                return when
            rejected.append((start, end))
    return None


def read_capture_time(exif: Image.Exif) -> datetime | None:
    """The capture time recorded in EXIF.

    Uses DateTimeOriginal (0x9003, Exif IFD) with SubSecTimeOriginal (0x9291) and
    OffsetTimeOriginal (0x9011); falls back to DateTimeDigitized (0x9004) with its own sub-second
    and offset tags.  IFD0 DateTime (0x0132) is a modification time and is not used.

    Parameters
    ----------
    exif : PIL.Image.Exif
        As returned by ``Image.getexif()``.

    Returns
    -------
    datetime or None
        Timezone-aware when an offset such as ``"+02:00"`` is recorded, else naive.  None when
        the tags are absent, blank (``"    :  :     :  :  "``), zero or not a valid date.

    Raises
    ------
    OSError, SyntaxError, ValueError, struct.error
        From Pillow, when the Exif IFD itself is damaged (:func:`load_photo` turns these into
        a note).

    Examples
    --------
    >>> exif = Image.Exif()
    >>> exif.get_ifd(0x8769).update({0x9003: "2026:11:05 09:30:12", 0x9011: "+02:00"})
    >>> read_capture_time(exif).isoformat()
    '2026-11-05T09:30:12+02:00'
    """
    ifd = exif.get_ifd(ExifTags.IFD.Exif)
    for tag, subsec_tag, offset_tag in (
        (_TAG_DATETIME_ORIGINAL, _TAG_SUBSEC_ORIGINAL, _TAG_OFFSET_ORIGINAL),
        (_TAG_DATETIME_DIGITIZED, _TAG_SUBSEC_DIGITIZED, _TAG_OFFSET_DIGITIZED),
    ):
        # Some writers put the Exif-IFD tags into IFD0; accept them there too.
        text = _exif_text(ifd.get(tag, exif.get(tag)))
        match = _EXIF_DATETIME.fullmatch(text) if text else None
        if match is None:
            continue
        subsec = _exif_text(ifd.get(subsec_tag, exif.get(subsec_tag)))
        micro = int((subsec + "000000")[:6]) if subsec and subsec.isdigit() else 0
        try:
            when = datetime(*(int(g) for g in match.groups()), micro)
        except ValueError:
            continue
        offset = _parse_utc_offset(_exif_text(ifd.get(offset_tag, exif.get(offset_tag))))
        return when.replace(tzinfo=offset) if offset is not None else when
    return None


_EXIF_DATETIME = re.compile(r"(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_UTC_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")


def _exif_text(value: object) -> str:
    """An EXIF ASCII value as a stripped str ('' for None, blanks or other types)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return ""
    return value.strip("\x00 \t\r\n")


def _parse_utc_offset(text: str) -> timezone | None:
    match = _UTC_OFFSET.fullmatch(text) if text else None
    if match is None:
        if text in ("Z", "+00:00"):
            return timezone.utc
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta >= timedelta(hours=24) or int(minutes) >= 60:
        return None
    return timezone(-delta if sign == "-" else delta)


# --------------------------------------------------------------------------------------------
# Capture time from file names
# --------------------------------------------------------------------------------------------

_Y = r"(?P<Y>(?:19|20)\d{2})"
_FILENAME_PATTERNS = (
    # 2026-11-05 09.30.12 / 2026-11-05 at 09.30.12 / 2026-11-05_09-30-12 / ... at 9.30.12 PM
    re.compile(
        rf"(?<!\d){_Y}-(?P<m>\d{{2}})-(?P<d>\d{{2}})(?:\s+at\s+|[ _T-])"
        r"(?P<H>\d{1,2})[.:\-](?P<M>\d{2})[.:\-](?P<S>\d{2})(?!\d)(?:\s*(?P<ampm>[AaPp][Mm])\b)?"
    ),
    # Screenshot 2026-11-05 093012
    re.compile(
        rf"(?<!\d){_Y}-(?P<m>\d{{2}})-(?P<d>\d{{2}})[ _T-](?P<H>\d{{2}})(?P<M>\d{{2}})(?P<S>\d{{2}})(?!\d)"
    ),
    # IMG_20261105_093012, PXL_20261105_093012345, 20261105_093012
    re.compile(
        rf"(?<!\d){_Y}(?P<m>\d{{2}})(?P<d>\d{{2}})[_\-T ](?P<H>\d{{2}})(?P<M>\d{{2}})(?P<S>\d{{2}})"
        r"(?P<ms>\d{3})?(?!\d)"
    ),
    # WhatsApp: IMG-20261105-WA0001, VID-20261105-WA0001 (date only)
    re.compile(rf"(?<![A-Za-z])(?:IMG|VID|PTT|AUD|STK|DOC)-{_Y}(?P<m>\d{{2}})(?P<d>\d{{2}})-WA\d+", re.I),
    # 2026-11-05 (date only)
    re.compile(rf"(?<!\d){_Y}-(?P<m>\d{{2}})-(?P<d>\d{{2}})(?!\d)"),
)


def _datetime_from_match(match: re.Match) -> datetime | None:
    """A naive datetime from a file-name match, or None when the date or time is impossible."""
    parts = match.groupdict()
    hour = int(parts.get("H") or 0)
    ampm = (parts.get("ampm") or "").upper()
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "PM" else 0)
    try:
        return datetime(
            int(parts["Y"]),
            int(parts["m"]),
            int(parts["d"]),
            hour,
            int(parts.get("M") or 0),
            int(parts.get("S") or 0),
            int(parts.get("ms") or 0) * 1000,
        )
    except ValueError:
        return None
