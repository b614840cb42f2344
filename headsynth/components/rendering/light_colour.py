"""The colour of a black-body light at a colour temperature, white-balanced to 6500 K.

A scene's light colour is the colour of a black body (Planck's law) at the
example's `light_temperature_k`, as a camera white-balanced to 6500 K sees
it: candle and tungsten light (~1900-3200 K) come out orange, daylight
(5000-6500 K) white, overcast sky and shade (7000-10000 K) blue.

How: Planck's spectral radiance at 5 nm steps over 380-780 nm, integrated
against the CIE 1931 2-degree colour-matching functions in the closed-form
multi-lobe Gaussian fit of Wyman, Sloan and Shirley ("Simple analytic
approximations to the CIE XYZ color matching functions", JCGT 2013; within a
few percent of the tabulated functions), scaled to luminance Y = 1, turned
into linear sRGB (IEC 61966-2-1 matrix) and divided channel by channel by the
same at 6500 K. So 6500 K is exactly (1, 1, 1) and a scene's light intensity
keeps its meaning at every temperature (luminance within a few percent of 1).
"""

from __future__ import annotations

import numpy as np

WHITE_K = 6500.0
_WAVELENGTHS_NM = np.arange(380.0, 781.0, 5.0)
_C2_NM_K = 1.4387769e7  # second radiation constant h*c/k_B, in nm*K
# CIE XYZ -> linear sRGB (D65).
_XYZ_TO_RGB = np.array(
    [
        [3.2404542, -1.5371385, -0.4985314],
        [-0.9692660, 1.8760108, 0.0415560],
        [0.0556434, -0.2040259, 1.0572252],
    ]
)
# Wyman, Sloan & Shirley (2013), multi-lobe fit: (weight, mean, sigma below, sigma above) per lobe.
_CMF_LOBES = (
    ((1.056, 599.8, 37.9, 31.0), (0.362, 442.0, 16.0, 26.7), (-0.065, 501.1, 20.4, 26.2)),
    ((0.821, 568.8, 46.9, 40.5), (0.286, 530.9, 16.3, 31.1)),
    ((1.217, 437.0, 11.8, 36.0), (0.681, 459.0, 26.0, 13.8)),
)


def _colour_matching_functions(wavelengths: np.ndarray) -> np.ndarray:
    """`[3, N]` CIE 1931 x-bar, y-bar, z-bar at the wavelengths (nm)."""
    rows = []
    for lobes in _CMF_LOBES:
        row = np.zeros_like(wavelengths)
        for weight, mean, below, above in lobes:
            sigma = np.where(wavelengths < mean, below, above)
            row += weight * np.exp(-0.5 * ((wavelengths - mean) / sigma) ** 2)
        rows.append(row)
    return np.stack(rows)


_CMF = _colour_matching_functions(_WAVELENGTHS_NM)


def _linear_srgb_at_unit_luminance(kelvin: float) -> np.ndarray:
    """`[3]` linear sRGB of a black body at one temperature, scaled to Y = 1.

    One temperature at a time, always through the same 1-D code path, so a
    temperature's colour never depends on what else is in a batch (and 6500 K
    divided by itself is exactly 1).
    """
    exponent = _C2_NM_K / (_WAVELENGTHS_NM * kelvin)
    radiance = _WAVELENGTHS_NM**-5.0 / np.expm1(exponent)  # [N]; constant factors cancel
    xyz = _CMF @ radiance  # [3]
    return _XYZ_TO_RGB @ (xyz / xyz[1])


_WHITE = _linear_srgb_at_unit_luminance(WHITE_K)


def blackbody_rgb(kelvin) -> np.ndarray:
    """`[..., 3]` float64 light colour of black bodies at `[...]` temperatures in kelvin.

    White-balanced to 6500 K (which gives exactly (1, 1, 1)), with luminance
    close to 1, and never negative (temperatures below ~1500 K lie outside
    the sRGB gamut; their negative channel is clipped to 0).

    Raises:
        ValueError: for a temperature that is not positive.
    """
    kelvin = np.asarray(kelvin, dtype=np.float64)
    if not np.all(kelvin > 0):
        raise ValueError(f"Colour temperatures must be positive kelvin. Received: {kelvin.min()}.")
    rgb = [_linear_srgb_at_unit_luminance(float(k)) / _WHITE for k in kelvin.ravel()]
    return np.maximum(np.reshape(rgb, kelvin.shape + (3,)), 0.0)
