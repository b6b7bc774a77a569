import dataclasses
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from intermask import checkpoint as checkpoint_module
from intermask.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    config_differences,
    latest_checkpoint,
    load_checkpoint,
    plain_config,
    remove_stale_temporaries,
    resolve_checkpoint,
    save_checkpoint,
)
from intermask.training.schedule import build_scheduler
from intermask.training.trainer import capture_rng_state, restore_rng_state


def training_payload(kind="vqvae", weight=1.0):
    model = nn.Linear(3, 2)
    nn.init.constant_(model.weight, weight)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
    scheduler = build_scheduler(optimizer, warmup_steps=2, milestones=(5,), gamma=0.1)
    model(torch.ones(4, 3)).sum().backward()
    optimizer.step()
    scheduler.step()
    return {
        "kind": kind,
        "model": model.state_dict(),
        "config": {"model": {"width": 3, "dims": (3, 2)}, "lr": 1e-3, "name": "tiny", "extra": None},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "step": 1,
        "epoch": 0,
        "rng": [capture_rng_state()],
        "metrics": {"loss": 0.5},
    }


def test_saved_payload_loads_with_weights_only_including_optimizer_scheduler_and_rng(tmp_path):
    payload = training_payload()
    path = save_checkpoint(tmp_path / "last.pt", payload)

    raw = torch.load(path, weights_only=True)  # no custom class anywhere in the file
    loaded = load_checkpoint(path, kind="vqvae")

    assert raw["format_version"] == loaded["format_version"] == FORMAT_VERSION
    assert torch.equal(loaded["model"]["weight"], payload["model"]["weight"])
    assert loaded["config"] == {"model": {"width": 3, "dims": [3, 2]}, "lr": 1e-3, "name": "tiny", "extra": None}
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.99)
    assert loaded["optimizer"]["state"][0]["exp_avg"].shape == (2, 3)
    assert loaded["scheduler"]["last_epoch"] == 1
    assert loaded["metrics"] == {"loss": 0.5}


def test_rng_states_survive_a_weights_only_round_trip_and_replay_the_same_draws(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    save_checkpoint(tmp_path / "last.pt", {"kind": "k", "model": {}, "config": {}, "rng": [capture_rng_state()]})
    expected = (random.random(), np.random.normal(), torch.rand(3))

    restore_rng_state(load_checkpoint(tmp_path / "last.pt")["rng"][0])
    replayed = (random.random(), np.random.normal(), torch.rand(3))

    assert replayed[0] == expected[0] and replayed[1] == expected[1]
    assert torch.equal(replayed[2], expected[2])


def test_omegaconf_config_is_stored_as_resolved_plain_data(tmp_path):
    config = OmegaConf.create({"model": {"width": 8, "depth": "${model.width}"}, "dims": [1, 2], "out": None})
    save_checkpoint(tmp_path / "c.pt", {"kind": "vqvae", "model": {}, "config": config})

    stored = load_checkpoint(tmp_path / "c.pt")["config"]

    assert stored == {"model": {"width": 8, "depth": 8}, "dims": [1, 2], "out": None}
    assert type(stored["model"]) is dict and type(stored["dims"]) is list


@dataclasses.dataclass
class Widths:
    width: int = 8
    sizes: tuple = (22, 11, 5)


def test_plain_config_converts_tuples_paths_dataclasses_and_numpy_scalars():
    config = plain_config({"model": Widths(), "root": Path("runs/a"), "scale": np.float32(2.5), "n": np.int64(3)})
    assert config == {"model": {"width": 8, "sizes": [22, 11, 5]}, "root": "runs/a", "scale": 2.5, "n": 3}
    assert type(config["n"]) is int


def test_config_with_a_tensor_is_rejected_naming_where_it_sits(tmp_path):
    config = {"model": {"weights": torch.ones(2)}}
    with pytest.raises(ValueError, match=r"config\.model\.weights"):
        save_checkpoint(tmp_path / "x.pt", {"kind": "vqvae", "model": {}, "config": config})
    assert not list(tmp_path.iterdir())


def test_payload_entry_that_weights_only_cannot_load_is_rejected_at_save_time(tmp_path):
    with pytest.raises(ValueError, match=r"metrics.*ndarray"):
        save_checkpoint(tmp_path / "x.pt", {"kind": "vqvae", "model": {}, "config": {}, "metrics": np.zeros(2)})


def test_payload_without_kind_model_or_config_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="lacks.*'config'"):
        save_checkpoint(tmp_path / "x.pt", {"kind": "vqvae", "model": {}})


def test_interrupted_save_keeps_previous_checkpoint_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    previous = training_payload(weight=1.0)
    save_checkpoint(path, previous)
    real_save = torch.save

    def save_half_then_fail(obj, file, *args, **kwargs):
        real_save(obj, file, *args, **kwargs)
        os.truncate(file, os.path.getsize(file) // 2)
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", save_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, training_payload(weight=7.0))

    assert [entry.name for entry in tmp_path.iterdir()] == ["last.pt"]
    assert torch.equal(load_checkpoint(path)["model"]["weight"], previous["model"]["weight"])


def test_stale_temporaries_of_a_killed_writer_are_removed(tmp_path):
    (tmp_path / ".last.pt.123.abcd.tmp").write_bytes(b"PK\x03\x04half")
    (tmp_path / "keep.tmp").write_bytes(b"")
    removed = remove_stale_temporaries(tmp_path, "last.pt")
    assert [path.name for path in removed] == [".last.pt.123.abcd.tmp"]
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["keep.tmp"]


def test_truncated_checkpoint_raises_checkpoint_error_naming_the_file(tmp_path):
    good = save_checkpoint(tmp_path / "good.pt", training_payload())
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])

    with pytest.raises(CheckpointError, match=r"truncated\.pt.*truncated or corrupt"):
        load_checkpoint(truncated)


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "empty file"), (b"not a checkpoint at all", "not a checkpoint"), (b"PK\x03\x04garbage" * 8, "corrupt")],
)
def test_unreadable_files_raise_checkpoint_error_naming_the_file_and_the_problem(tmp_path, content, reason):
    path = tmp_path / "broken.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=rf"broken\.pt.*{reason}"):
        load_checkpoint(path)


def test_damaged_bytes_inside_a_tensor_are_caught_by_their_crc(tmp_path):
    payload = training_payload()
    path = save_checkpoint(tmp_path / "last.pt", payload)
    raw = bytearray(path.read_bytes())
    # tensors are stored uncompressed: change one value of the model's weight in place, as a bad disk or copy would
    stored = payload["model"]["weight"].numpy().tobytes()
    start = raw.find(stored)
    assert start > 0
    raw[start + 1] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"last\.pt: corrupt checkpoint: record .* fails its CRC check"):
        load_checkpoint(path)


def test_a_checkpoint_with_nan_weights_is_refused_naming_the_weight(tmp_path):
    payload = training_payload()
    payload["model"]["weight"][0, 0] = float("nan")
    path = save_checkpoint(tmp_path / "last.pt", payload)
    with pytest.raises(CheckpointError, match="weight 'weight' holds NaN or infinite values"):
        load_checkpoint(path)


def test_missing_file_raises_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match=r"nowhere\.pt.*not found"):
        load_checkpoint(tmp_path / "nowhere.pt")


@pytest.mark.parametrize(
    "content, reason",
    [
        ([1, 2, 3], "top-level object is list"),
        ({"model": {}}, "no format_version"),
        ({"format_version": 99, "kind": "vqvae", "model": {}, "config": {}}, "format_version 99 unsupported"),
        ({"format_version": 1, "kind": "vqvae"}, r"missing \['model', 'config'\]"),
    ],
)
def test_files_that_are_not_checkpoints_of_this_library_are_rejected(tmp_path, content, reason):
    path = tmp_path / "foreign.pt"
    torch.save(content, path)
    with pytest.raises(CheckpointError, match=rf"foreign\.pt.*{reason}"):
        load_checkpoint(path)


def test_checkpoint_of_another_kind_is_rejected_when_a_kind_is_expected(tmp_path):
    path = save_checkpoint(tmp_path / "t.pt", training_payload(kind="transformer"))
    with pytest.raises(CheckpointError, match="kind 'vqvae' expected, got 'transformer'"):
        load_checkpoint(path, kind="vqvae")


def test_latest_checkpoint_is_the_newest_last_pt_of_the_requested_kind(tmp_path):
    runs = tmp_path / "runs"
    for name, kind, mtime in [("vq_old", "vqvae", 100), ("vq_new", "vqvae", 200), ("tf", "transformer", 300)]:
        path = save_checkpoint(runs / name / "last.pt", training_payload(kind=kind))
        os.utime(path, (mtime, mtime))
    (runs / "broken").mkdir()
    (runs / "broken" / "last.pt").write_bytes(b"junk")
    os.utime(runs / "broken" / "last.pt", (400, 400))

    assert latest_checkpoint(runs) == runs / "broken" / "last.pt"
    assert latest_checkpoint(runs, kind="vqvae") == runs / "vq_new" / "last.pt"
    assert latest_checkpoint(runs, kind="transformer") == runs / "tf" / "last.pt"
    assert resolve_checkpoint("latest", runs, kind="vqvae") == runs / "vq_new" / "last.pt"
    assert resolve_checkpoint(runs / "vq_old" / "last.pt", runs) == runs / "vq_old" / "last.pt"
    with pytest.raises(CheckpointError, match="no last.pt of kind 'evaluator'"):
        latest_checkpoint(runs, kind="evaluator")


def test_config_differences_lists_changed_added_and_removed_dotted_keys():
    old = {"model": {"width": 512, "depth": 2}, "lr": 2e-4, "tags": [1, 2]}
    new = {"model": {"width": 256, "heads": 8}, "lr": 2e-4, "tags": [1, 3]}
    assert config_differences(old, new) == ["model.depth", "model.heads", "model.width", "tags"]
    assert config_differences(old, old) == []


def test_save_writes_through_a_temporary_file_in_the_same_directory(tmp_path, monkeypatch):
    replaced = []
    real_replace = os.replace

    def recording_replace(source, destination):
        replaced.append((source, destination))
        real_replace(source, destination)

    monkeypatch.setattr(checkpoint_module.os, "replace", recording_replace)
    save_checkpoint(tmp_path / "last.pt", training_payload())

    [(source, destination)] = replaced
    assert os.path.dirname(source) == os.path.dirname(destination) == str(tmp_path)
    assert os.path.basename(source).startswith(".last.pt.") and str(source).endswith(".tmp.pt")
