import pytest

from impasto.config import StyleConfig
from impasto.engine.memory import GIB, MIN_LBFGS_HISTORY, SAFETY, estimate_peak, fit_in_memory, step_cost
from impasto.engine.schedule import Scale


def test_estimate_grows_with_pixels_history_and_precision():
    config = StyleConfig()
    small = estimate_peak(512, 384, config, act_bytes=2, history=20, tile=None)
    big = estimate_peak(1024, 768, config, act_bytes=2, history=20, tile=None)
    assert small < big < 4 * small
    assert estimate_peak(1024, 768, config, act_bytes=2, history=5, tile=None) < big
    assert estimate_peak(1024, 768, config, act_bytes=4, history=20, tile=None) > big
    # Measured peaks (README): 0.90 GiB and 1.90 GiB; the estimate stays within 15%.
    assert small / GIB == pytest.approx(0.90, rel=0.15) and big / GIB == pytest.approx(1.90, rel=0.15)


def test_the_footprint_stays_whole_when_it_fits_then_shortens_history_then_tiles():
    config = StyleConfig()
    scale = Scale(0, 2048, 1536, 10, 2048)
    roomy = fit_in_memory(scale, config, 64 * GIB, act_bytes=2)
    assert roomy.tile is None and roomy.history == config.lbfgs_history
    tight = fit_in_memory(scale, config, int(6 * GIB), act_bytes=2)
    assert tight.tile is None and MIN_LBFGS_HISTORY <= tight.history < config.lbfgs_history
    assert tight.peak_bytes <= 6 * GIB
    tiled = fit_in_memory(scale, config, 3 * GIB, act_bytes=2)
    assert tiled.tile is not None and tiled.passes > 1
    # The largest history that fits beside these tiles: one more pair would not.
    assert (
        tiled.history == config.lbfgs_history
        or estimate_peak(2048, 1536, config, act_bytes=2, history=tiled.history + 1, tile=tiled.tile) > 3 * GIB * SAFETY
    )
    roomier = fit_in_memory(scale, config, 5 * GIB, act_bytes=2)
    assert roomier.tile is not None and roomier.history > MIN_LBFGS_HISTORY
    with pytest.raises(ValueError, match="even in 256-px tiles"):
        fit_in_memory(Scale(0, 8192, 8192, 1, 8192), config, GIB, act_bytes=2)


def test_forced_tile_size():
    footprint = fit_in_memory(Scale(0, 512, 384, 1, 512), StyleConfig(tile_size=128), 64 * GIB, act_bytes=2)
    assert footprint.tile == 128 and footprint.passes == 20  # 4 cuts across, 3 down, at a typical offset
    small = fit_in_memory(Scale(0, 96, 64, 1, 96), StyleConfig(tile_size=128), 64 * GIB, act_bytes=2)
    assert small.tile is None and small.passes == 1  # a tile bigger than the image is the image


def test_step_cost_counts_overlaps_and_the_second_forward():
    scale = Scale(0, 1024, 768, 1, 1024)
    whole = fit_in_memory(scale, StyleConfig(), 64 * GIB, act_bytes=2)
    tiled = fit_in_memory(scale, StyleConfig(tile_size=256), 64 * GIB, act_bytes=2)
    assert step_cost(scale, whole) == 1024 * 768
    assert 1.5 * 1024 * 768 < step_cost(scale, tiled) < 4 * 1024 * 768


def test_luminance_and_content_layers_change_the_estimate():
    from impasto.engine.memory import values_per_pixel

    assert values_per_pixel(("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")) == 122
    assert values_per_pixel(("relu4_2",)) == 8 and values_per_pixel(("pool5",)) == 0.5
    config = StyleConfig()
    plain = estimate_peak(1024, 768, config, act_bytes=2, history=20, tile=None)
    grey = estimate_peak(1024, 768, StyleConfig(preserve_color="luminance"), act_bytes=2, history=20, tile=None)
    assert plain - grey == 2 * 4 * 1024 * 768 * (3 + 2 * 20 + 4 + 2)  # two channels fewer per image copy
    deep = estimate_peak(4096, 3072, config, act_bytes=2, history=5, tile=1024)
    shallow = estimate_peak(4096, 3072, StyleConfig(content_layers=("relu1_2",)), act_bytes=2, history=5, tile=1024)
    assert shallow - deep == (64 - 8) * 2 * 4096 * 3072  # relu1_2's whole target against relu4_2's
