import math

import pytest
import torch

from intermask.motion.smoothing import check_cutoff, lowpass_frames, lowpass_taps

FPS = 30


def test_the_kernel_is_half_a_second_symmetric_and_of_unit_gain():
    taps = lowpass_taps(8, FPS)
    assert len(taps) == 15
    torch.testing.assert_close(taps, taps.flip(0))
    assert float(taps.sum()) == pytest.approx(1.0, abs=1e-6)


def test_a_steady_drift_passes_unchanged_to_the_last_frame_and_shaking_above_the_cutoff_goes():
    frames = torch.arange(40, dtype=torch.float32)
    drift = (0.3 * frames - 2.0)[None, :, None].repeat(1, 1, 3)  # (clip, frame, channel)
    torch.testing.assert_close(lowpass_frames(drift, torch.tensor([40]), 8, FPS), drift, atol=1e-5, rtol=0)
    slow = torch.sin(2 * math.pi * 1.0 * frames / FPS)  # 1 Hz: the motion
    shake = 0.2 * (-1.0) ** frames  # 15 Hz: the decoder's noise
    noisy = slow + shake
    out = lowpass_frames(noisy[None, :, None], torch.tensor([40]), 8, FPS)[0, :, 0]
    inner = slice(8, 32)  # away from the ends
    assert (out[inner] - slow[inner]).abs().max() < 0.02
    assert (out[1:-1] - slow[1:-1]).abs().max() < 0.05  # near the ends too
    torch.testing.assert_close(out[[0, -1]], noisy[[0, -1]])  # the odd reflection keeps each end where it is


def test_rows_past_a_clip_short_clips_and_masked_channels_are_left_alone():
    torch.manual_seed(0)
    features = torch.randn(3, 2, 20, 4)  # (clip, person, frame, channel)
    channels = torch.tensor([True, True, True, False])
    out = lowpass_frames(features, torch.tensor([20, 12, 7]), 6, FPS, channels)
    assert torch.equal(out[1, :, 12:], features[1, :, 12:])  # past the second clip's 12 frames
    assert torch.equal(out[2], features[2])  # 7 frames: no more than half the kernel
    assert torch.equal(out[..., 3], features[..., 3])
    assert not torch.allclose(out[0, ..., :3], features[0, ..., :3])
    assert not torch.allclose(out[1, :, :12, :3], features[1, :, :12, :3])
    # each clip is filtered alone: the first clip's result does not depend on the others
    alone = lowpass_frames(features[:1], torch.tensor([20]), 6, FPS, channels)
    torch.testing.assert_close(out[:1], alone)


@pytest.mark.parametrize("value", [0, -1, 15, 20, float("nan"), float("inf"), True, "8"])
def test_a_cutoff_outside_zero_to_nyquist_is_refused_by_name(value):
    with pytest.raises(ValueError, match=r"model.transformer.lowpass_hz must be null .* between 0 and 15"):
        check_cutoff(value, FPS, "model.transformer.lowpass_hz")


def test_no_cutoff_means_no_filter():
    assert check_cutoff(None, FPS, "x") is None
    assert check_cutoff(8, FPS, "x") == 8.0


def test_lengths_must_match_the_clips():
    with pytest.raises(ValueError, match="lengths: expected 2 clip lengths, got 1"):
        lowpass_frames(torch.zeros(2, 20, 3), torch.tensor([20]), 8, FPS)
