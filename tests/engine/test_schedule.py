import itertools
import math

import pytest

from impasto.config import MIN_SIZE, StyleConfig
from impasto.engine.schedule import SCALE_FACTOR, Scale, budget, fit_long_side, scale_sizes, scales_for


@pytest.mark.parametrize(("width", "height"), [(1024, 768), (768, 1024), (1000, 1000), (4000, 1000), (33, 2000)])
@pytest.mark.parametrize(("size", "start"), [(2048, 512), (4096, 128), (1000, 999), (724, 256)])
def test_scales_grow_monotonically_and_end_exactly_at_the_target_with_the_content_aspect(width, height, size, start):
    sizes = scale_sizes(width, height, size, start)
    assert sizes[-1] == fit_long_side(width, height, size)
    long_sides = [max(s) for s in sizes]
    assert long_sides == sorted(set(long_sides))  # strictly increasing
    assert long_sides[0] >= start or len(sizes) == 1
    for (w0, h0), (w1, h1) in itertools.pairwise(sizes):
        assert max(w1, h1) / max(w0, h0) == pytest.approx(SCALE_FACTOR, rel=0.02)
    for w, h in sizes:
        assert min(w, h) >= MIN_SIZE or (w, h) == sizes[-1]
        assert w / h == pytest.approx(width / height, rel=0.05)  # rounding of small sides only


def test_the_scales_of_a_print_size_run():
    assert [max(s) for s in scale_sizes(1024, 768, 2048, 512)] == [512, 724, 1024, 1448, 2048]
    assert scale_sizes(1024, 768, 512, 512) == [(512, 384)]  # start == size: one scale
    assert scale_sizes(1024, 768, 512, 1024) == [(512, 384)]
    assert scale_sizes(1024, 768, 2048, None) == [(2048, 1536)]


def test_scales_stop_before_a_short_side_under_the_network_minimum():
    sizes = scale_sizes(4000, 1000, 1024, 64)  # 4:1 -- 128 px long is 32 short, 91 would be 23
    assert min(sizes[0]) >= MIN_SIZE and min(scale_sizes(4000, 1000, 1024, 64)[0]) == 32


def test_scales_for_gives_iterations_and_style_sizes():
    config = StyleConfig(
        size=1024, start_size=512, iterations=100, scale_iterations=30, scale_decay=1.0, style_scale=0.5
    )
    scales = scales_for(1024, 768, config)
    assert [(s.width, s.height) for s in scales] == [(512, 384), (724, 543), (1024, 768)]
    assert [s.iterations for s in scales] == [100, 30, 30]
    assert [s.style_size for s in scales] == [256, 362, 512]
    fixed = scales_for(1024, 768, StyleConfig(size=1024, style_size=300))
    assert {s.style_size for s in fixed} == {300}


def test_scale_pixels():
    assert Scale(0, 30, 20, 5, 30).pixels == 600
    assert math.isclose(SCALE_FACTOR**2, 2)


def test_budgets_fall_by_scale_decay_after_the_second_scale():
    config = StyleConfig(size=2048, start_size=256, iterations=200, scale_iterations=100, scale_decay=0.5)
    assert [s.iterations for s in scales_for(1024, 768, config)] == [200, 100, 50, 25, 12, 6, 3]
    assert [budget(i, config) for i in range(3)] == [200, 100, 50]
    # Never below one step, unless the later scales are switched off.
    tiny = StyleConfig(scale_iterations=2, scale_decay=0.1)
    assert [budget(i, tiny) for i in range(1, 5)] == [2, 1, 1, 1]
    assert budget(3, StyleConfig(scale_iterations=0)) == 0


def test_every_preset_spends_less_per_scale_as_pixels_grow_or_stays_flat():
    from impasto.presets import PRESETS

    for name in PRESETS:
        config = StyleConfig.preset(name, size=2048)
        later = [s.iterations for s in scales_for(1024, 768, config)][1:]
        assert later == sorted(later, reverse=True), name
