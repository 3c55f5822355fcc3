"""The demo report's lateness histogram: a log axis with P50 and P99 marked."""

import math
import re

import numpy as np
import pytest

from superinstance.equilibrium import report, svgplot


def _bars(svg):
    """(x, width, height) of the histogram's bars (filled with the first colour)."""
    return [(float(x), float(w), float(h)) for x, w, h in re.findall(
        rf'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="([\d.]+)" fill="{svgplot.COLORS[0]}"/>', svg)]


def _axis_x(value, lo_e, hi_e):
    """Where a value lands on a log10 axis running from 10**lo_e to 10**hi_e."""
    span = svgplot.W - svgplot.LEFT - svgplot.RIGHT
    return svgplot.LEFT + (math.log10(value) - lo_e) / (hi_e - lo_e) * span


def test_values_land_at_their_log_positions_and_every_value_is_counted():
    values = [20.0] * 90 + [50.0] * 9 + [3000.0]  # decades 10 .. 10**4
    svg = svgplot.log_histogram_chart("t", "lateness (us)", values, bins=30, log_count=False)
    bars = _bars(svg)
    assert len(bars) == 30
    heights = {round(x + w / 2): h for x, w, h in bars if h > 0}
    assert len(heights) == 3
    # bar heights are counts on a linear y axis: 90 : 9 : 1 (the 1 is about 2 px tall, drawn to 0.1 px)
    tall, mid, short = sorted(heights.values(), reverse=True)
    assert tall / short == pytest.approx(90, rel=0.05) and mid / short == pytest.approx(9, rel=0.05)
    centres = sorted(heights)
    bin_width = (svgplot.W - svgplot.LEFT - svgplot.RIGHT) / 30
    for centre, v in zip(centres, (20.0, 50.0, 3000.0)):
        assert abs(centre - _axis_x(v, 1, 4)) <= bin_width  # within the bin that holds the value
    for e, label in ((1, "10"), (2, "100"), (3, "1000")):  # decade ticks, equally spaced
        assert f'text-anchor="middle">{label}</text>' in svg
        assert f'x="{_axis_x(10 ** e, 1, 4):.1f}" y="{svgplot.H - svgplot.BOTTOM + 16}"' in svg


def test_p50_and_p99_are_marked_where_they_are():
    svg = svgplot.log_histogram_chart("t", "lateness (us)", [30.0, 40.0, 2500.0], marks=[("P50", 40.0), ("P99", 2400.0)],
                                      unit=" us")
    assert ">P50 40 us</text>" in svg and ">P99 2400 us</text>" in svg
    dashed = [float(x) for x in re.findall(r'<line x1="([\d.]+)"[^>]*stroke-dasharray', svg)]
    assert dashed == pytest.approx([_axis_x(40.0, 1, 4), _axis_x(2400.0, 1, 4)], abs=0.06)


def test_zero_and_non_finite_values_do_not_break_the_axis():
    svg = svgplot.log_histogram_chart("t", "x", [0.0, float("nan"), 5.0, 7.0], log_count=False)
    bars = _bars(svg)
    assert [i for i, (_, _, h) in enumerate(bars) if h > 0][0] == 0  # 0 counted in the first bin
    assert sum(h > 0 for _, _, h in bars) == 3  # and 5 and 7 in two more; NaN dropped
    assert "nan" not in svg.lower()


def test_report_marks_the_summary_percentiles(tmp_path):
    rng = np.random.default_rng(0)
    late_us = np.concatenate([rng.gamma(3, 15, 590), rng.uniform(100, 4000, 10)])
    ticks = [{"index": i, "t_s": i / 20, "lateness_ns": float(v * 1e3), "confidence": 0.5, "reward": 0.5, "arm": i % 3,
              "expected_reward": 0.5, "best_expected": 0.6, "random_expected": 0.4, "stages_ns": {"a": 1000}}
             for i, v in enumerate(late_us)]
    record = {"ticks": ticks, "arms": [{"rate": 1.0}] * 3,
              "summary": {"lateness_p50_us": 41.5, "lateness_p99_us": 1250.0}}
    page = open(report.write_report(record, str(tmp_path))["html"]).read()
    assert "lateness (us) (log scale)" in page
    assert ">P50 41.5 us</text>" in page and ">P99 1250 us</text>" in page
    record["summary"] = {}  # no timer statistics: the percentiles of the ticks drawn
    svg = report.charts(record)[0]
    assert f">P50 {svgplot._fmt(float(np.percentile(late_us, 50)))} us</text>" in svg
