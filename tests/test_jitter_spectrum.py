"""scripts/jitter_spectrum.py: the joints' acceleration power per band, data against a tokenizer's reconstruction."""
from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.fake_data import write_synthetic_split
from helpers.stand_in import stand_in_vq_reports

from intermask.data.synthetic import generate_clip

INDICES = range(16, 20)


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("jitter_spectrum")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("spectrum") / "synthetic"
    return write_synthetic_split(root, [(f"{index:06d}", generate_clip(index, seed=5)) for index in INDICES])


def test_a_shake_at_15_hz_lands_in_the_top_band_and_a_lowpass_removes_it(script):
    frames = np.arange(128)
    still = np.zeros((2, 128, 22, 3))
    shaken = still + ((-1.0) ** frames)[None, :, None, None] * np.array([0.001, 0.0, 0.0])
    bands = script.bands(script.acceleration_power([shaken], 30.0), 30.0)
    assert [band["low_hz"] for band in bands] == [0, 2, 4, 6, 8, 10, 12, 14] and bands[-1]["high_hz"] == 15
    assert bands[-1]["power"] > 0 and all(band["power"] < 1e-6 * bands[-1]["power"] for band in bands[:-2])
    # 1 mm to either side on alternate frames: second differences of 4 mm, 3.6 m/s² on one of three axes
    assert script.jitter([shaken], 30.0) == pytest.approx(3.6, rel=1e-3)
    assert script.jitter(script.lowpassed([shaken], 8.0, 30.0), 30.0) < 0.4


def test_a_lossless_tokenizer_matches_the_data_in_every_band_and_a_flat_one_has_no_acceleration(
        script, dataset, tmp_path, monkeypatch, capsys):
    for flatten, (report, printed) in stand_in_vq_reports(script, dataset, tmp_path, monkeypatch, capsys).items():
        assert report["clips"] == len(INDICES) and "recon / data" in printed
        data = np.array([band["data"] for band in report["bands"]])
        recon = np.array([band["reconstruction"] for band in report["bands"]])
        assert (data > 0).all()
        if not flatten:
            np.testing.assert_allclose(recon, data, rtol=1e-3)
            assert report["jitter"]["reconstruction"] == pytest.approx(report["jitter"]["data"], rel=1e-3)
        else:  # every position at the data's mean: nothing moves
            assert recon.max() < 1e-6 * data.max() and report["jitter"]["reconstruction"] < 1e-3


def test_each_cutoff_asked_is_reported_for_the_data_and_the_reconstruction(script, dataset, tmp_path, monkeypatch):
    import intermask.loading
    from helpers.stand_in import StandInVQ

    monkeypatch.setattr(intermask.loading, "load_vq", lambda path: StandInVQ(False))
    out = tmp_path / "spectrum.json"
    assert script.main(["--data", str(dataset), "--vq", str(tmp_path / "vq.pt"), "--lowpass", "6", "10",
                        "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [row["cutoff_hz"] for row in report["lowpass"]] == [6.0, 10.0]
    for row in report["lowpass"]:
        assert row["data"] == pytest.approx(row["reconstruction"], rel=1e-3)
        assert 0 < row["data"] <= 1.1 * report["jitter"]["data"]


def test_a_cutoff_past_the_nyquist_frequency_stops_before_anything_is_read(script, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        script.main(["--data", str(tmp_path / "nowhere"), "--vq", str(tmp_path / "vq.pt"), "--lowpass", "20"])
    assert stopped.value.code == 2 and "--lowpass must be null" in capsys.readouterr().err
