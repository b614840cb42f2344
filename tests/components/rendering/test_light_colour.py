import numpy as np
import pytest

from headsynth.components.rendering.light_colour import WHITE_K, blackbody_rgb


def test_6500_kelvin_is_exactly_white():
    assert WHITE_K == 6500.0
    assert blackbody_rgb(6500.0).tolist() == [1.0, 1.0, 1.0]
    assert blackbody_rgb([6500.0, 6500.0]).tolist() == [[1.0, 1.0, 1.0]] * 2


def test_warm_light_is_red_and_cool_light_is_blue():
    warm, cool = blackbody_rgb(3000.0), blackbody_rgb(9000.0)
    assert warm[0] > warm[1] > warm[2] and warm[0] > 1.0 > warm[2]
    assert cool[2] > cool[1] > cool[0] and cool[2] > 1.0 > cool[0]
    kelvin = np.linspace(2000.0, 12000.0, 41)
    rgb = blackbody_rgb(kelvin)
    assert rgb.shape == (41, 3)
    assert np.all(np.diff(rgb[:, 0]) < 0) and np.all(np.diff(rgb[:, 2]) > 0)  # red falls, blue rises
    luminance = rgb @ np.array([0.2126, 0.7152, 0.0722])
    np.testing.assert_allclose(luminance, 1.0, atol=0.02)  # intensity keeps its meaning
    assert np.all(blackbody_rgb(np.array([800.0, 1000.0, 40000.0])) >= 0.0)


def test_non_positive_temperatures_are_rejected():
    with pytest.raises(ValueError, match="positive kelvin"):
        blackbody_rgb([3000.0, 0.0])
