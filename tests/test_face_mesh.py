"""The MediaPipe index sets of analyzer.face.mesh against MediaPipe's own connection lists.

``FaceLandmarksConnections`` lists each contour as edges (start, end); a ring is rebuilt by
following them, so the test checks both the members and the polygon order of our tuples.
"""

from __future__ import annotations

import pytest
from mediapipe.tasks.python.vision import FaceLandmarksConnections as C

from analyzer.face import mesh
from analyzer.vocab import REGION_KEYS


def ring(edges, start: int) -> tuple[int, ...]:
    """The closed contour through ``edges`` from ``start`` (edges taken in either direction)."""
    nxt: dict[int, list[int]] = {}
    for e in edges:
        nxt.setdefault(e.start, []).append(e.end)
        nxt.setdefault(e.end, []).append(e.start)
    out = [start]
    prev = None
    while True:
        options = [n for n in nxt[out[-1]] if n != prev]
        step = min(options) if prev is None else options[0]  # either direction: see same_ring
        if step == start:
            return tuple(out)
        prev = out[-1]
        out.append(step)


def same_ring(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """True when ``a`` is ``b`` rotated, in either direction."""
    if len(a) != len(b) or set(a) != set(b):
        return False
    k = b.index(a[0])
    fwd = b[k:] + b[:k]
    return a == fwd or a == (fwd[0],) + tuple(reversed(fwd[1:]))


def test_contours_are_mediapipes_rings():
    assert mesh.FACE_OVAL == tuple(e.start for e in C.FACE_LANDMARKS_FACE_OVAL)  # same order
    assert len(mesh.FACE_OVAL) == 36 and mesh.FACE_OVAL[0] == mesh.FOREHEAD_TOP
    eyes = ((mesh.LEFT_EYE, C.FACE_LANDMARKS_LEFT_EYE), (mesh.RIGHT_EYE, C.FACE_LANDMARKS_RIGHT_EYE))
    for ours, theirs in eyes:
        assert len(ours) == 16 and same_ring(ours, ring(theirs, ours[0]))
    outer_lip_edges = C.FACE_LANDMARKS_LIPS[:20]  # lower then upper outer contour; inner follows
    assert same_ring(mesh.LIPS_OUTER, ring(outer_lip_edges, 61))


def test_brows_irises_and_nose_hold_mediapipes_points():
    brow = {e.start for e in C.FACE_LANDMARKS_LEFT_EYEBROW} | {e.end for e in C.FACE_LANDMARKS_LEFT_EYEBROW}
    assert set(mesh.LEFT_BROW) == brow
    brow = {e.start for e in C.FACE_LANDMARKS_RIGHT_EYEBROW} | {e.end for e in C.FACE_LANDMARKS_RIGHT_EYEBROW}
    assert set(mesh.RIGHT_BROW) == brow
    for ours, theirs, centre in (
        (mesh.LEFT_IRIS, C.FACE_LANDMARKS_LEFT_IRIS, 473),
        (mesh.RIGHT_IRIS, C.FACE_LANDMARKS_RIGHT_IRIS, 468),
    ):
        assert ours[0] == centre and ours[1:] == tuple(e.start for e in theirs)
    # the horizontal limbus points are opposite each other on the ring (1st and 3rd)
    assert mesh.LEFT_IRIS_HORIZONTAL == (mesh.LEFT_IRIS[1], mesh.LEFT_IRIS[3])
    assert mesh.RIGHT_IRIS_HORIZONTAL == (mesh.RIGHT_IRIS[1], mesh.RIGHT_IRIS[3])
    nose = {e.start for e in C.FACE_LANDMARKS_NOSE} | {e.end for e in C.FACE_LANDMARKS_NOSE}
    assert nose == set(mesh.NOSE) and mesh.NOSE_TIP in nose


def test_named_points_lie_on_their_contours():
    assert {mesh.RIGHT_EYE_OUTER, mesh.RIGHT_EYE_INNER} <= set(mesh.RIGHT_EYE)
    assert {mesh.LEFT_EYE_OUTER, mesh.LEFT_EYE_INNER} <= set(mesh.LEFT_EYE)
    assert set(mesh.FACE_WIDTH) | {mesh.CHIN, mesh.FOREHEAD_TOP} <= set(mesh.FACE_OVAL)
    assert mesh.FACE_HEIGHT == (10, 152)
    # the chin is half-way round the oval from the forehead top, and the width pair sits
    # symmetrically about that axis (454 eight points clockwise of 10, 234 eight anticlockwise)
    n = len(mesh.FACE_OVAL)
    assert mesh.FACE_OVAL.index(mesh.CHIN) == n // 2
    right, left = (mesh.FACE_OVAL.index(i) for i in mesh.FACE_WIDTH)
    assert right == n - left == 28


def test_index_sets_are_immutable_in_range_and_regions_follow_the_vocabulary():
    assert tuple(mesh.REGION_LANDMARKS) == REGION_KEYS
    with pytest.raises(TypeError):
        mesh.REGION_LANDMARKS["nose"] = (1, 2, 3)  # type: ignore[index]
    for name in mesh.__all__:
        value = getattr(mesh, name)
        sets = value.values() if name == "REGION_LANDMARKS" else [value] if isinstance(value, tuple) else []
        for idx in sets:
            assert isinstance(idx, tuple), name
            assert all(isinstance(i, int) and 0 <= i < mesh.N_LANDMARKS for i in idx), name
            assert len(set(idx)) == len(idx), name
    assert mesh.N_LANDMARKS == 468 + 10
