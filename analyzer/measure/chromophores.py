r"""Melanin and haemoglobin from linear RGB by the Tsumura optical-density model.

Model
-----
In the optical-density (OD) domain a skin colour is a sum of two pigment terms and a shading
term (Tsumura et al. 1999, 2003):

.. math:: s = -\ln(\mathrm{rgb}) = c_m \sigma_m + c_h \sigma_h + p \, (1, 1, 1)

with :math:`\sigma_m, \sigma_h` the (R, G, B) absorbance directions of melanin and haemoglobin,
:math:`c_m, c_h` their densities and :math:`p` the shading (exposure, surface orientation),
which attenuates all channels alike.  Shading is removed by projecting :math:`s` along
(1, 1, 1) onto the pigment plane, whose normal is :math:`n = \sigma_m \times \sigma_h`:

.. math:: t = -\frac{n \cdot s}{n \cdot \mathbf 1}, \qquad s' = s + t \mathbf 1, \qquad
          (c_m, c_h)^T = \mathrm{pinv}([\sigma_m\ \sigma_h]) \, s'

Both steps are linear, so they are folded into one 2 x 3 matrix ``U`` with ``U @ (1,1,1) = 0``:
(c_m, c_h) = U s.  A region's value is therefore the separation of its mean OD, which equals
the mean of the per-pixel densities.

Domain and range
----------------
==================  ======================================  ==================================
quantity            representation                          range
==================  ======================================  ==================================
linear              linear sRGB, float, (..., 3)            [0, 1], colour-normalised
optical density     float32, (..., 3), natural log          [0, 13.8] (13.8 = -ln EPS)
c_m, c_h            float32, (...), OD along unit vectors   skin: c_m ~0.5-1, c_h ~1.5-2.5
==================  ======================================  ==================================

Densities are relative: the shading projection moves any grey offset into p, so c_m and c_h
are defined up to the choice of vectors and are compared within one camera/normalisation
(day to day), not between studies.

References
----------
.. [1] N. Tsumura, H. Haneishi and Y. Miyake, "Independent-component analysis of skin color
   image", J. Opt. Soc. Am. A 16(9):2169-2176 (1999).
.. [2] N. Tsumura, N. Ojima, K. Sato, M. Shiraishi, H. Shimizu, H. Nabeshima, S. Akazaki,
   K. Hori and Y. Miyake, "Image-based skin color and texture analysis/synthesis by extracting
   hemoglobin and melanin information in the skin", ACM Trans. Graph. 22(3):770-779
   (SIGGRAPH 2003).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .redness import EPS, _as_mask, _as_rgb, _crop_to_mask, _masked_channel_mean

__all__ = [
    "SIGMA_MELANIN",
    "SIGMA_HEMOGLOBIN",
    "optical_density",
    "separate",
    "compose",
    "add_chromophores",
    "chromophores_of_mean",
    "density_shift",
]

SIGMA_MELANIN: tuple[float, float, float] = (0.4143, 0.3570, 0.8372)
"""Melanin absorbance direction (R, G, B) in the OD domain, unit length (read-only tuple).

Common fixed vector of the Tsumura model (docs/science.md#tsumura-separation).  Tsumura et al. estimate these
directions per image set by independent component analysis; they differ between cameras, so
this fixed pair is a default, not a physical constant."""

SIGMA_HEMOGLOBIN: tuple[float, float, float] = (0.2988, 0.6838, 0.6657)
"""Haemoglobin absorbance direction (R, G, B) in the OD domain, unit length (read-only tuple).
See :data:`SIGMA_MELANIN` for its provenance and caveats."""


def _vector(v, name: str) -> tuple[float, float, float]:
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be 3 numbers (R, G, B), got {v!r}") from None
    if a.shape != (3,):
        raise ValueError(f"{name} must have shape (3,), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite, got {tuple(a)}")
    return (float(a[0]), float(a[1]), float(a[2]))


@lru_cache(maxsize=16)
def _unmixing(sigma_m: tuple[float, ...], sigma_h: tuple[float, ...]) -> np.ndarray:
    """The 2 x 3 matrix U (float64, read-only): (c_m, c_h) = U s, shading removed."""
    sm, sh = np.array(sigma_m), np.array(sigma_h)
    n = np.cross(sm, sh)
    if np.linalg.norm(n) <= 1e-6 * np.linalg.norm(sm) * np.linalg.norm(sh):
        raise ValueError(f"sigma_m {sigma_m} and sigma_h {sigma_h} are (nearly) parallel")
    n_dot_1 = n.sum()
    if abs(n_dot_1) <= 1e-6 * np.linalg.norm(n):
        raise ValueError(
            f"the shading direction (1, 1, 1) lies in the plane of sigma_m {sigma_m} and "
            f"sigma_h {sigma_h}, so shading cannot be separated from the pigments"
        )
    project = np.eye(3) - np.outer(np.ones(3), n) / n_dot_1  # s' = project @ s
    u = np.linalg.pinv(np.stack([sm, sh], axis=1)) @ project
    u.setflags(write=False)
    return u


def _matrix(sigma_m, sigma_h) -> np.ndarray:
    return _unmixing(_vector(sigma_m, "sigma_m"), _vector(sigma_h, "sigma_h"))


def _od(a: np.ndarray) -> np.ndarray:
    """-ln(max(a, EPS)) in a's own float precision."""
    od = np.maximum(a, a.dtype.type(EPS))
    np.log(od, out=od)
    np.negative(od, out=od)
    return od


def _log_ratios(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(s_R - s_G, s_B - s_G) = (ln(G/R), ln(G/B)) with the EPS guard, in a's precision.

    Since U (1, 1, 1) = 0, U s = U[:, 0] (s_R - s_G) + U[:, 2] (s_B - s_G): working with
    differences removes any common factor before rounding (grey is exactly 0, exposure cancels
    to the rounding of the input itself) and keeps float32 error independent of how dark a
    pixel is."""
    shape = a.shape[:-1]
    a = a.reshape(-1, 3)  # 1-D channels, so that the in-place ufuncs also work for one pixel
    eps = a.dtype.type(EPS)
    g = np.maximum(a[:, 1], eps)
    x = np.maximum(a[:, 0], eps)
    y = np.maximum(a[:, 2], eps)
    with np.errstate(divide="ignore", invalid="ignore"):  # inf/NaN pixels propagate quietly
        np.divide(g, x, out=x)
        np.log(x, out=x)
        np.divide(g, y, out=y)
        np.log(y, out=y)
    return x.reshape(shape), y.reshape(shape)


def optical_density(linear: np.ndarray) -> np.ndarray:
    r"""Optical density s = -ln(max(rgb, eps)) (natural log) of linear sRGB.

    Parameters
    ----------
    linear : ndarray of float, shape (..., 3)
        Linear sRGB, colour-normalised, nominally in [0, 1].

    Returns
    -------
    ndarray of float32, shape (..., 3)
        Optical density per channel, natural-log units; 0 for white, at most
        -ln(1e-6) = 13.8 (set by :data:`analyzer.measure.redness.EPS`), negative for values
        above 1.  NaN is propagated.

    Raises
    ------
    ValueError
        If ``linear`` is not floating point or its last axis is not 3.

    Notes
    -----
    .. math:: s_c = -\ln \max(x_c, \epsilon), \quad c \in \{R, G, B\}, \; \epsilon = 10^{-6}

    Beer-Lambert: a layer of transmittance T adds -ln T to every channel's density.

    References
    ----------
    .. [1] Tsumura, Haneishi & Miyake, J. Opt. Soc. Am. A 16:2169 (1999).

    Examples
    --------
    >>> import numpy as np
    >>> from analyzer.measure.chromophores import optical_density
    >>> s = optical_density(np.array([0.5, np.exp(-1.0), 0.0], np.float32))
    >>> [round(float(v), 4) for v in s]
    [0.6931, 1.0, 13.8155]
    """
    a = _as_rgb(linear)
    return _od(a).astype(np.float32, copy=False)


def separate(
    linear: np.ndarray,
    *,
    sigma_m=SIGMA_MELANIN,
    sigma_h=SIGMA_HEMOGLOBIN,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-pixel melanin and haemoglobin densities (c_m, c_h), shading removed.

    Parameters
    ----------
    linear : ndarray of float, shape (..., 3)
        Linear sRGB, colour-normalised, nominally in [0, 1].  float32 is fastest.
    sigma_m, sigma_h : sequence of 3 floats, keyword-only
        (R, G, B) absorbance directions of melanin and haemoglobin; default
        :data:`SIGMA_MELANIN`, :data:`SIGMA_HEMOGLOBIN`.  Must not be parallel, and (1, 1, 1)
        must not lie in their plane.

    Returns
    -------
    c_m, c_h : ndarray of float32, shape (...)
        Melanin and haemoglobin optical densities (natural log, along the given vectors).
        On colour-normalised skin c_m is about 0.5-1 and c_h about 1.5-2.5 (ColorChecker
        skin patches: light 0.64 / 2.01, dark 0.91 / 2.30); grey is (0, 0) and either may be
        negative (the shading term absorbs any common offset).  NaN where an input channel is NaN.

    Raises
    ------
    ValueError
        If ``linear`` is not floating point, its last axis is not 3, or the vectors are
        unusable.

    Notes
    -----
    .. math::
        s &= -\ln \max(\mathrm{rgb}, \epsilon) \\
        n &= \sigma_m \times \sigma_h, \quad t = -\frac{n \cdot s}{n \cdot \mathbf 1},
        \quad s' = s + t \mathbf 1 \\
        (c_m, c_h)^T &= \mathrm{pinv}([\sigma_m\ \sigma_h]) \, s'

    A change of exposure or shading by a factor k adds -ln k to all three densities, which
    the projection removes: (c_m, c_h) is invariant to it.  Because U (1, 1, 1) = 0 the
    product is evaluated as U[:, 0] ln(G/R) + U[:, 2] ln(G/B), so the common factor cancels
    before any rounding: grey gives exactly (0, 0) and exposure changes the result only by
    the float32 rounding of the scaled input (about 1e-7).  With the default vectors,
    c_h = -2.612 s_R + 2.300 s_G + 0.312 s_B and c_m = -0.098 s_R - 1.996 s_G + 2.094 s_B.

    References
    ----------
    .. [1] Tsumura, Haneishi & Miyake, J. Opt. Soc. Am. A 16:2169 (1999).
    .. [2] Tsumura et al., ACM Trans. Graph. 22:770 (SIGGRAPH 2003).

    Examples
    --------
    >>> import numpy as np
    >>> from analyzer.measure.chromophores import compose, separate
    >>> rgb = compose(0.5, 0.3, shading=0.2)
    >>> c_m, c_h = separate(rgb)
    >>> round(float(c_m), 5), round(float(c_h), 5)
    (0.5, 0.3)
    """
    a = _as_rgb(linear)
    u = _matrix(sigma_m, sigma_h)
    x, y = _log_ratios(a)
    t = a.dtype.type
    c_m = t(u[0, 0]) * x + t(u[0, 2]) * y
    c_h = t(u[1, 0]) * x + t(u[1, 2]) * y
    return c_m.astype(np.float32, copy=False), c_h.astype(np.float32, copy=False)


def compose(
    c_m,
    c_h,
    shading=0.0,
    *,
    sigma_m=SIGMA_MELANIN,
    sigma_h=SIGMA_HEMOGLOBIN,
) -> np.ndarray:
    r"""Linear sRGB from melanin and haemoglobin densities and shading (inverse of separate).

    Parameters
    ----------
    c_m, c_h : float or array_like of float, shapes broadcastable to a common shape (...)
        Melanin and haemoglobin optical densities (natural log).
    shading : float or array_like of float, broadcastable to (...), default 0
        Grey optical density p; ``p = -ln k`` is an exposure factor k.
    sigma_m, sigma_h : sequence of 3 floats, keyword-only
        Absorbance directions, default :data:`SIGMA_MELANIN`, :data:`SIGMA_HEMOGLOBIN`.

    Returns
    -------
    ndarray of float32, shape (..., 3)
        Linear sRGB.  In (0, 1] when every channel's total density is >= 0; not clipped, so
        negative densities give values above 1.  NaN propagates.

    Raises
    ------
    ValueError
        If the arguments are not numeric, do not broadcast, or the vectors are unusable.

    Notes
    -----
    .. math:: \mathrm{rgb} = \exp\!\big(-(c_m \sigma_m + c_h \sigma_h + p \, \mathbf 1)\big)

    Computed in float64 and rounded once to float32, so
    ``separate(compose(c_m, c_h, p))`` returns (c_m, c_h) to about 2e-7.

    References
    ----------
    .. [1] Tsumura et al., ACM Trans. Graph. 22:770 (SIGGRAPH 2003).

    Examples
    --------
    >>> from analyzer.measure.chromophores import compose
    >>> compose(0.0, 0.0)
    array([1., 1., 1.], dtype=float32)
    >>> compose([0.5, 0.6], 0.3, shading=0.2).shape
    (2, 3)
    """
    sm = np.array(_vector(sigma_m, "sigma_m"))
    sh = np.array(_vector(sigma_h, "sigma_h"))
    _matrix(sigma_m, sigma_h)  # same validity rules as separate()
    try:
        cm, ch, p = (np.asarray(v, dtype=np.float64) for v in (c_m, c_h, shading))
        cm, ch, p = np.broadcast_arrays(cm, ch, p)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"c_m, c_h and shading must be numbers or broadcastable arrays: {exc}") from None
    od = cm[..., None] * sm + ch[..., None] * sh + p[..., None]
    return np.exp(-od).astype(np.float32)


def add_chromophores(
    linear: np.ndarray,
    d_hemoglobin=0.0,
    d_melanin=0.0,
    *,
    mask: np.ndarray | None = None,
    sigma_m=SIGMA_MELANIN,
    sigma_h=SIGMA_HEMOGLOBIN,
) -> np.ndarray:
    r"""Add haemoglobin and/or melanin optical density to a linear image (Beer-Lambert).

    Parameters
    ----------
    linear : ndarray of float, shape (..., 3), typically (H, W, 3)
        Linear sRGB.
    d_hemoglobin, d_melanin : float or ndarray of float, shape broadcastable to (...)
        Density to add, natural-log OD along the vectors (e.g. 0.3 = "raise haemoglobin by
        0.3 OD"); negative values remove pigment.  Must be finite.
    mask : ndarray of bool, shape (...), optional
        Change only these pixels (an empty mask changes nothing).  Default: all pixels.
    sigma_m, sigma_h : sequence of 3 floats, keyword-only
        Absorbance directions, default :data:`SIGMA_MELANIN`, :data:`SIGMA_HEMOGLOBIN`.

    Returns
    -------
    ndarray of float32, same shape as ``linear``
        A new array; not clipped (negative densities can push values above 1).

    Raises
    ------
    ValueError
        Wrong dtype/shape of ``linear`` or ``mask``, densities that are not finite or do not
        broadcast, or unusable vectors.

    Notes
    -----
    .. math:: \mathrm{rgb}' = \mathrm{rgb} \cdot
              \exp\!\big(-(\Delta h \, \sigma_h + \Delta m \, \sigma_m)\big)

    :func:`separate` then returns c_h + Δh and c_m + Δm (exactly in arithmetic, to about 2e-7
    in float32) wherever the pixel stays above :data:`analyzer.measure.redness.EPS`, and the
    erythema index rises by 100 Δh (σ_h[G] - σ_h[R]) / ln 10 = 16.72 Δh.  Used to build
    synthetic test photos with known changes.

    References
    ----------
    .. [1] Tsumura et al., ACM Trans. Graph. 22:770 (SIGGRAPH 2003).

    Examples
    --------
    >>> import numpy as np
    >>> from analyzer.measure.chromophores import add_chromophores, separate
    >>> skin = np.full((2, 2, 3), (0.45, 0.30, 0.25), np.float32)
    >>> redder = add_chromophores(skin, d_hemoglobin=0.1)
    >>> round(float(separate(redder)[1][0, 0] - separate(skin)[1][0, 0]), 4)
    0.1
    """
    a = _as_rgb(linear)
    sm = np.array(_vector(sigma_m, "sigma_m"))
    sh = np.array(_vector(sigma_h, "sigma_h"))
    shape = a.shape[:-1]
    try:
        dh = np.asarray(d_hemoglobin, dtype=np.float64)
        dm = np.asarray(d_melanin, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("d_hemoglobin and d_melanin must be numbers or float arrays") from None
    for d, name in ((dh, "d_hemoglobin"), (dm, "d_melanin")):
        if not np.all(np.isfinite(d)):
            raise ValueError(f"{name} has NaN or infinite values")
        try:
            np.broadcast_shapes(d.shape, shape)
        except ValueError:
            raise ValueError(f"{name} has shape {d.shape}, which does not broadcast to {shape}") from None
        if np.broadcast_shapes(d.shape, shape) != shape:
            raise ValueError(f"{name} has shape {d.shape}, larger than the image's {shape}")
    od = dh[..., None] * sh + dm[..., None] * sm
    factor = np.exp(-od)
    if mask is not None:
        m = _as_mask(mask, shape, allow_empty=True)
        factor = np.where(m[..., None], factor, 1.0)
    return (a * factor).astype(np.float32)


def chromophores_of_mean(
    linear: np.ndarray,
    mask: np.ndarray,
    *,
    sigma_m=SIGMA_MELANIN,
    sigma_h=SIGMA_HEMOGLOBIN,
) -> tuple[float, float]:
    r"""Melanin and haemoglobin density of a region: the separation of its mean optical density.

    Parameters
    ----------
    linear : ndarray of float, shape (H, W, 3)
        Linear sRGB, colour-normalised.  Values outside the mask are not read.
    mask : ndarray of bool, shape (H, W)
        True on the pixels to average; at least one.
    sigma_m, sigma_h : sequence of 3 floats, keyword-only
        Absorbance directions, default :data:`SIGMA_MELANIN`, :data:`SIGMA_HEMOGLOBIN`.

    Returns
    -------
    melanin, hemoglobin : float
        Mean c_m and c_h over the mask, natural-log OD units (see :func:`separate`).

    Raises
    ------
    ValueError
        Wrong dtype or shape, an empty mask, or a NaN/infinite value inside the mask.

    Notes
    -----
    .. math:: (c_m, c_h)^T = U \, \bar s, \qquad
              \bar s = \frac{1}{|M|} \sum_{p \in M} -\ln \max(\mathrm{rgb}_p, \epsilon)

    where U is the 2 x 3 unmixing matrix of :func:`separate`.  Because U is linear this equals
    the mean of the per-pixel maps.  Computed, like :func:`separate`, from the channel
    differences ln(G/R) and ln(G/B), averaged in float64.  Exposure and
    shading cancel as in :func:`separate`.  Confounders: the vectors are camera dependent
    (Tsumura estimates them per image set by ICA); specular highlights (white light) add
    negative density along (1, 1, 1), which the projection removes only partly once channels
    clip.

    References
    ----------
    .. [1] Tsumura, Haneishi & Miyake, J. Opt. Soc. Am. A 16:2169 (1999).
    .. [2] Tsumura et al., ACM Trans. Graph. 22:770 (SIGGRAPH 2003).

    Examples
    --------
    >>> import numpy as np
    >>> from analyzer.measure.chromophores import chromophores_of_mean, compose
    >>> img = np.stack([compose(0.4, 0.2), compose(0.6, 0.4, shading=0.5)])[None]  # (1, 2, 3)
    >>> mel, hb = chromophores_of_mean(img, np.ones((1, 2), bool))
    >>> round(mel, 4), round(hb, 4)
    (0.5, 0.3)
    """
    a = _as_rgb(linear, image=True)
    m = _as_mask(mask, a.shape[:2])
    u = _matrix(sigma_m, sigma_h)
    a, m = _crop_to_mask(a, m)
    if a.dtype != np.float64:
        a = a.astype(np.float32, copy=False)
    x, y = _log_ratios(a)
    mean_x, mean_y = _masked_channel_mean(np.stack([x, y], axis=-1), m, "linear")
    c = u[:, 0] * mean_x + u[:, 2] * mean_y
    return float(c[0]), float(c[1])


def density_shift(
    log_gain_rg: float, log_gain_bg: float, *, sigma_m=SIGMA_MELANIN, sigma_h=SIGMA_HEMOGLOBIN
) -> tuple[float, float]:
    r"""Change of (melanin, haemoglobin) density when the light's gains change by
    ``exp(log_gain_rg)`` on red and ``exp(log_gain_bg)`` on blue, relative to green.

    The separation reads the channel differences ln(G/R) and ln(G/B) (:func:`_log_ratios`); a
    diagonal change of light lowers them by ``log_gain_rg`` and ``log_gain_bg`` at every pixel, so

    .. math:: (\Delta c_m, \Delta c_h)^T = -U[:, R]\, \ln\frac{g_R}{g_G} - U[:, B]\,
              \ln\frac{g_B}{g_G}

    exactly, for :func:`separate` and :func:`chromophores_of_mean` alike.

    >>> import numpy as np
    >>> px = compose(0.4, 0.2)[None, None]                       # (1, 1, 3)
    >>> g = np.array([np.exp(0.1), 1.0, np.exp(-0.05)], np.float32)
    >>> m0, h0 = chromophores_of_mean(px, np.ones((1, 1), bool))
    >>> m1, h1 = chromophores_of_mean(px * g, np.ones((1, 1), bool))
    >>> dm, dh = density_shift(0.1, -0.05)
    >>> bool(abs(m1 - m0 - dm) < 1e-5 and abs(h1 - h0 - dh) < 1e-5)
    True
    """
    u = _matrix(sigma_m, sigma_h)
    d = -u[:, 0] * float(log_gain_rg) - u[:, 2] * float(log_gain_bg)
    return float(d[0]), float(d[1])
