"""The published checkpoint files turned into this library's own.

Turns the published weights into this library's self-describing checkpoints, which ``sample``, ``eval`` and
``train`` (as ``vq_ckpt``) read like their own:

    <official_dir>/checkpoints/<dataset>/<name>/model/<which>.tar      Inter-M transformer  -> out/transformer.pt
    <official_dir>/checkpoints/<dataset>/<vq_name>/model/<vq_which>.tar 2D VQ-VAE          -> out/vqvae.pt
    <official_dir>/data/stats/global_{mean,std}.npy                    normalisation, inside transformer.pt
    <official_dir>/checkpoints/eval_model/interclip.ckpt               InterGen evaluator   -> out/evaluator.pt
    <official_dir>/checkpoints/**/text_mot_match/model/finest.tar      Inter-X evaluator    -> out/interx_evaluator.pt

``vq_name`` and the sizes no tensor tells come from each run's ``opt.txt`` (and ``eval_model.yaml``).
``load_official(path)`` reads one such file directly into a checkpoint payload, as ``load_checkpoint`` would.
Converted models keep the published behaviour: the graph-batching quirk, the doubled spatio-temporal residual,
first-rows codebook resets and the reference decoding conventions (``models.official_quirks`` lists them).
"""
from __future__ import annotations

import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from ..checkpoint import check_payload, save_checkpoint
from ..errors import CheckpointError, ConfigError
from ..motion.layout import FeatureLayout
from . import weights as official

VQ_FILE, TRANSFORMER_FILE = "vqvae.pt", "transformer.pt"
EVALUATOR_FILE, INTERX_EVALUATOR_FILE = "evaluator.pt", "interx_evaluator.pt"
STATS_DIR = Path("data") / "stats"
INTERCLIP_PATH = Path("checkpoints") / "eval_model" / "interclip.ckpt"
INTERX_MATCHING_GLOB = "checkpoints/**/text_mot_match/model/finest.tar"


# ---- reading the published files ---------------------------------------------------------------------------


def read_official_file(path: str | os.PathLike, trust_pickle: bool = False) -> dict:
    """The dict a published ``.tar``/``.ckpt`` file holds.

    Files are read with ``weights_only=True`` so that nothing in them can run code; a file that also pickles
    Python objects (e.g. a training framework's hyper-parameters) needs ``trust_pickle=True``, which is only
    safe for a file from a source you trust.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"{path}: holds pickled objects that a weights-only load refuses ({str(error).splitlines()[0]}); "
            f"if you trust its source, convert with trust_pickle=true") from error
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: unreadable checkpoint ({str(error).splitlines()[0]})") from error
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path}: a checkpoint holds a dict, this file holds a {type(payload).__name__}")
    return payload


def _option_value(text: str):
    """opt.txt values as the official option reader types them: bools, numbers, None, else strings."""
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?|[-+]?\d+[eE][-+]?\d+", text):
        return float(text)
    return text


def read_option_file(path: str | os.PathLike) -> dict:
    """An official run's ``opt.txt`` ("key: value" lines between two banner lines) as a dict."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: option file not found")
    options = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("---"):
            continue
        key, sep, value = line.partition(": ")
        if not sep:
            key, sep, value = line.partition(":")
        if not sep or not key:
            raise ValueError(f"{path}:{number}: expected 'key: value', got {line!r}")
        options[key.strip()] = _option_value(value.strip())
    return options


def read_eval_model_config(path: str | os.PathLike) -> dict:
    """InterGen's ``eval_model.yaml`` (NUM_HEADS, DROPOUT, ...) as a dict."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: evaluator config not found")
    config = yaml.safe_load(path.read_text())
    if not isinstance(config, dict):
        raise ValueError(f"{path}: expected a mapping of settings, got {type(config).__name__}")
    return config


def read_statistics(path: str | os.PathLike) -> torch.Tensor:
    """A normalisation vector saved with ``np.save`` -> float32 tensor."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: normalisation statistics not found")
    return torch.from_numpy(np.load(path, allow_pickle=False).astype(np.float32))


def official_format(checkpoint: Mapping) -> str:
    """Which published checkpoint a loaded dict is: "vqvae", "transformer", "interclip", "interx_matching",
    or "ours" for this library's own checkpoints."""
    if "format_version" in checkpoint:
        return "ours"
    if "vq_model" in checkpoint or "net" in checkpoint:
        return "vqvae"
    if "t2m_transformer" in checkpoint or "trans" in checkpoint:
        return "transformer"
    state = checkpoint.get("state_dict")
    if isinstance(state, Mapping) and any("textTransEncoder." in str(key) for key in state):
        return "interclip"
    if all(isinstance(checkpoint.get(name), Mapping) for name in official.INTERX_ENCODERS):
        return "interx_matching"
    entries = sorted(map(str, checkpoint))
    raise CheckpointError(f"not a checkpoint format this library knows: top-level entries {entries}")


# ---- payloads -----------------------------------------------------------------------------------------------


def _payload(kind: str, model: dict, model_config: dict, source: Path, checkpoint: Mapping, **provenance) -> dict:
    """A weights-only export in ``save_checkpoint``'s format; ``config.official`` records where it came from."""
    epoch = checkpoint.get("ep", checkpoint.get("epoch"))
    step = checkpoint.get("total_it", checkpoint.get("global_step"))
    origin = {"file": str(source), "epoch": epoch if isinstance(epoch, int) else None, **provenance}
    return {"format_version": 1, "kind": kind, "model": model,
            "config": {"model_config": model_config, "official": origin},
            "optimizer": None, "scheduler": None, "step": step if isinstance(step, int) else 0,
            "epoch": origin["epoch"] or 0, "metrics": {}}


def vq_payload(checkpoint: Mapping, source: Path, opt: Mapping | None = None) -> dict:
    """A "vqvae" payload (``loading.load_vq`` reads it) from an official VQ-VAE checkpoint and its options."""
    config, state = official.convert_vq(checkpoint, opt)
    return _payload("vqvae", state, config, source, checkpoint, options=dict(opt or {}))


def transformer_payload(checkpoint: Mapping, source: Path, opt: Mapping | None, vq: Mapping,
                        mean: torch.Tensor | None, std: torch.Tensor | None, max_frames: int | None = None) -> dict:
    """A "transformer" payload (``loading.load_interaction_model`` reads it) from an official transformer
    checkpoint, the converted VQ-VAE payload ``vq`` and the normalisation statistics (None for Inter-X)."""
    config, state = official.convert_transformer(checkpoint, opt, vq["config"]["model_config"], vq["model"], mean,
                                                 std, max_frames)
    config["vq_checkpoint"] = vq["config"]["official"]["file"]
    return _payload("transformer", state, config, source, checkpoint, options=dict(opt or {}))


def interclip_payload(checkpoint: Mapping, source: Path, cfg: Mapping | None = None) -> dict:
    """An "evaluator" payload from InterGen's ``interclip.ckpt``.

    The released evaluator's frozen text features are CLIP's token + position embeddings, which its own
    weights hold (``InterCLIPEvaluator.token_features`` on CLIP token ids), not the CLIP text tower's output:
    its text encoder is therefore named "clip_tokens".
    """
    evaluator, state = official.convert_interclip(checkpoint, cfg)
    text_encoder = {"name": "clip_tokens", "frozen_dim": evaluator["text_dim"],
                    "context_length": evaluator["context_length"]}
    model_config = {"evaluator": evaluator, "text_encoder": text_encoder}
    return _payload("evaluator", state, model_config, source, checkpoint, options=dict(cfg or {}))


def interx_matching_payload(checkpoint: Mapping, source: Path) -> dict:
    """A "matching_evaluator" payload (``InterXMatchingEvaluator(**config["model_config"]["evaluator"])``)
    from Inter-X's ``finest.tar``."""
    evaluator, state = official.convert_interx_matching(checkpoint)
    return _payload("matching_evaluator", state, {"evaluator": evaluator}, source, checkpoint)


# ---- one file -------------------------------------------------------------------------------------------------


def _run_dir_of(path: Path) -> Path | None:
    """checkpoints/<dataset>/<name>/model/<file> -> checkpoints/<dataset>/<name>, when laid out so."""
    return path.parent.parent if path.parent.name == "model" else None


def _options_beside(path: Path) -> dict | None:
    run_dir = _run_dir_of(path)
    return read_option_file(run_dir / "opt.txt") if run_dir and (run_dir / "opt.txt").is_file() else None


def load_official(path: str | os.PathLike, trust_pickle: bool = False, *, vq_path: str | os.PathLike | None = None,
                  stats_dir: str | os.PathLike | None = None, max_frames: int | None = None) -> dict:
    """Read a published checkpoint (or one of ours) into a payload as ``load_checkpoint`` returns it.

    The format is detected from the file's entries. A transformer also needs its VQ-VAE and the normalisation
    statistics: by default found as the official code lays them out (the run's ``opt.txt`` names the VQ run,
    whose ``model/best_fid.tar`` is used; ``data/stats/global_{mean,std}.npy`` under the checkout), or given
    by ``vq_path`` and ``stats_dir``.
    """
    path = Path(path)
    checkpoint = read_official_file(path, trust_pickle)
    kind = official_format(checkpoint)
    if kind == "ours":
        return check_payload(checkpoint, path)
    if kind == "vqvae":
        return vq_payload(checkpoint, path, _options_beside(path))
    if kind == "interclip":
        cfg_path = path.parent / "eval_model.yaml"
        return interclip_payload(checkpoint, path, read_eval_model_config(cfg_path) if cfg_path.is_file() else None)
    if kind == "interx_matching":
        return interx_matching_payload(checkpoint, path)

    opt = _options_beside(path)
    run_dir = _run_dir_of(path)
    if vq_path is None:
        if run_dir is None or not opt or not opt.get("vq_name"):
            raise ConfigError(f"{path}: cannot tell which VQ-VAE this transformer uses (no opt.txt with vq_name "
                              f"beside its model/ folder); pass vq_path")
        vq_path = run_dir.parent / str(opt["vq_name"]) / "model" / "best_fid.tar"
    vq = load_official(vq_path, trust_pickle)
    if vq["kind"] != "vqvae":
        raise CheckpointError(f"{vq_path}: a VQ-VAE checkpoint expected, got a {vq['kind']!r} checkpoint")
    if stats_dir is None and _normalized(vq):
        if run_dir is None:
            raise ConfigError(f"{path}: cannot find the normalisation statistics; pass stats_dir")
        stats_dir = run_dir.parents[2] / STATS_DIR  # run_dir is <checkout>/checkpoints/<dataset>/<name>
    mean, std = _statistics(vq, stats_dir)
    return transformer_payload(checkpoint, path, opt, vq, mean, std, max_frames)


def _normalized(vq: Mapping) -> bool:
    return FeatureLayout.from_dict(vq["config"]["model_config"]["layout"]).normalized


def _statistics(vq: Mapping, stats_dir: str | os.PathLike | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The published ``global_{mean,std}.npy`` for a VQ-VAE whose features are normalised, else (None, None)."""
    if not _normalized(vq):
        return None, None
    return tuple(read_statistics(Path(stats_dir) / f"global_{name}.npy") for name in ("mean", "std"))


# ---- a whole checkout -----------------------------------------------------------------------------------------


def _tar_name(which: str) -> str:
    return which if Path(which).suffix else f"{which}.tar"


def convert_official_dir(official_dir: str | os.PathLike, out: str | os.PathLike, dataset: str = "interhuman",
                         name: str = "trans_default", which: str = "best_fid", vq_which: str = "best_fid",
                         evaluators: bool = True, trust_pickle: bool = False,
                         max_frames: int | None = None) -> dict[str, Path]:
    """Convert a checkout's transformer (with its VQ-VAE) and, with ``evaluators``, whichever evaluators it
    holds. Returns {"vqvae": path, "transformer": path, ["evaluator": path], ["interx_evaluator": path]}."""
    root, out = Path(official_dir), Path(out)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: official checkout not found")
    run_dir = root / "checkpoints" / dataset / name
    transformer_path = run_dir / "model" / _tar_name(which)
    if not transformer_path.is_file():
        found = sorted(p.name for p in (run_dir / "model").glob("*")) if (run_dir / "model").is_dir() else []
        raise FileNotFoundError(f"{transformer_path}: transformer checkpoint not found"
                                + (f" (that folder has {found})" if found else ""))
    opt = read_option_file(run_dir / "opt.txt")
    if not opt.get("vq_name"):
        raise ConfigError(f"{run_dir / 'opt.txt'}: no vq_name, so the VQ-VAE of this transformer is unknown")
    vq_path = run_dir.parent / str(opt["vq_name"]) / "model" / _tar_name(vq_which)
    vq = vq_payload(read_official_file(vq_path, trust_pickle), vq_path, _options_beside(vq_path))
    mean, std = _statistics(vq, root / STATS_DIR)
    transformer = transformer_payload(read_official_file(transformer_path, trust_pickle), transformer_path, opt, vq,
                                      mean, std, max_frames)
    written = {"vqvae": save_checkpoint(out / VQ_FILE, vq)}
    transformer["config"]["model_config"]["vq_checkpoint"] = str(written["vqvae"])
    written["transformer"] = save_checkpoint(out / TRANSFORMER_FILE, transformer)
    if evaluators:
        interclip = root / INTERCLIP_PATH
        if interclip.is_file():
            written["evaluator"] = save_checkpoint(out / EVALUATOR_FILE, load_official(interclip, trust_pickle))
        for matching in sorted(root.glob(INTERX_MATCHING_GLOB))[:1]:
            written["interx_evaluator"] = save_checkpoint(out / INTERX_EVALUATOR_FILE,
                                                          load_official(matching, trust_pickle))
    return written
