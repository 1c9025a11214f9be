"""streaming.py: the overlap-add engine's invariants, without a model (the model's path through
it: test_inference.py)."""
from __future__ import annotations

import numpy as np
import pytest

import streaming


@pytest.mark.parametrize("seconds,overlap", [(0.6, 0.2), (1.0, 0.4), (0.3, 0.15)])
def test_crossfade_weights_sum_to_one(seconds, overlap):
    plan = streaming.SegmentPlan.from_seconds(seconds, overlap, 44100, 2048)
    n = 5 * plan.length + 123
    total = np.zeros(n)
    last = -(-(n - plan.length) // plan.hop)
    for k in range(last + 1):
        length = plan.length if k < last else n - k * plan.hop
        w = plan.weights(length, fade_in=k > 0, fade_out=k < last)
        total[k * plan.hop : k * plan.hop + length] += w
    np.testing.assert_allclose(total, 1.0, atol=1e-12)
    assert plan.hop % 2048 == 0 and plan.margin > 0 and plan.fade > 0




def test_a_stream_covers_its_input_exactly_with_any_blocks_and_rates():
    """Pairs come back in order, of equal lengths, covering the input sample for sample (with
    resampling to the estimator's rate and back), and digital silence gets no noise."""
    plan = streaming.SegmentPlan.from_seconds(0.05, 0.02, 8000, align=16)

    def noise(items: np.ndarray) -> np.ndarray:
        return 0.1 * np.asarray(items)  # any function of a segment

    rng = np.random.default_rng(0)
    x = 0.3 * rng.standard_normal((3001, 2))
    x[1000:1100] = 0.0  # 100 samples of digital silence at 11025 Hz: > 1 ms
    for block in (1, 37, 5000):
        stream = streaming.NoiseStream(noise, plan, 11025, 8000, channels=2, batch_items=3)
        pairs = list(streaming.stream_pairs(stream, x, block))
        got = np.concatenate([p[0] for p in pairs])
        est = np.concatenate([p[1] for p in pairs])
        assert all(len(a) == len(b) for a, b in pairs)
        np.testing.assert_array_equal(got, x)
        assert not np.any(est[1000:1100]) and np.any(est[:1000])


def test_segment_plan_rejects_bad_lengths_naming_the_option():
    with pytest.raises(streaming.UsageError, match="inference.segment_seconds"):
        streaming.SegmentPlan.from_seconds(0.0, 0.0, 44100, 1)
    with pytest.raises(streaming.UsageError, match="inference.overlap_seconds"):
        streaming.SegmentPlan.from_seconds(1.0, 0.6, 44100, 1)
