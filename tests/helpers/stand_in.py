"""Untrained stand-in text-to-interaction models for tests that need a model but not a trained one."""
import zlib

import torch

from intermask.models.transformer import InterMTransformer
from intermask.generation.interaction_model import InterMask
from intermask.models.text import FrozenTextBackbone, TextEncoder, words_that_fit
from intermask.models.vqvae import MotionVQVAE
from intermask.motion.layout import INTERHUMAN, INTERX


class CaptionHash(FrozenTextBackbone):
    """Stand-in frozen text features: fixed random numbers per caption, nothing to load. Like a real backbone it
    reads a caption's start only: its first ``max_words`` words."""

    feature_dim, name, max_words = 12, "caption_hash", 24

    def __init__(self):
        super().__init__()
        self.freeze()

    def read_part(self, text):
        return words_that_fit(text, lambda part: len(part.split()), self.max_words)

    def forward(self, texts):
        seeds = [zlib.crc32(self.read_part(t).encode()) for t in texts]
        features = [torch.randn(4, self.feature_dim, generator=torch.Generator().manual_seed(seed)) for seed in seeds]
        return torch.stack(features), torch.full((len(texts),), 3)


def tiny_model(layout=INTERX, config: dict | None = None):
    """An untrained text-to-interaction model on ``layout`` (the Inter-X VQ-VAE without graph layers), with
    InterMask's ``config`` (e.g. a caption aligner's)."""
    torch.manual_seed(0)
    vq = MotionVQVAE(layout, width=16, code_dim=24, num_codes=16, depth=1, graph=layout is not INTERX)
    vq.quantizer.set_codebook(torch.randn(16, 24))
    transformer = InterMTransformer(num_codes=16, num_parts=5, max_time=150 // 4, token_dim=24, dim=32, depth=1,
                                    heads=2, ff_dim=64, dropout=0.1, text_dim=CaptionHash.feature_dim)
    text = TextEncoder(CaptionHash(), num_layers=1, heads=2, ff_dim=16)
    return InterMask(vq, transformer, text, torch.zeros(layout.dim), torch.ones(layout.dim), config).eval()


class ReplayModel:
    """Stands in for a trained model: 'generates' the clip (joints (2, frame, 22, 3)) of each caption, NaN past the
    asked length; ``collapse`` draws the first person twice, one body on top of the other. Its ``joints`` are the
    features as they are."""

    max_frames, frames_per_token = 120, 4

    def __init__(self, by_caption, collapse=False):
        self.by_caption, self.collapse, self.asked = by_caption, collapse, []
        self.mean = torch.zeros(1)

    def generate(self, texts, lengths, generator=None, **options):
        self.asked += list(zip(texts, lengths.tolist()))
        features = torch.full((len(texts), 2, int(lengths.max()) + 4, 22, 3), float("nan"))
        for i, (text, length) in enumerate(zip(texts, lengths.tolist())):
            joints = torch.as_tensor(self.by_caption[text][:, :length])
            features[i, :, :length] = joints[[0, 0]] if self.collapse else joints
        return None, features

    def joints(self, features):
        return features


class StandInVQ:
    """Encodes normalised features as they are; decodes them unchanged, or with every position at the data's mean."""

    class layout:
        time_downsample = 4

    partner_frame = False  # each person in the world frame
    body_size = None  # each person at their own size

    def __init__(self, flatten_positions=False):
        self.flatten_positions = flatten_positions

    def encode(self, features, lengths):
        return features.clone()

    def decode(self, codes, lengths_tokens):
        decoded = codes.clone()
        if self.flatten_positions:
            decoded[..., INTERHUMAN.position] = 0.0  # normalised: the mean of each position channel
        return decoded


def stand_in_vq_reports(script, root, tmp_path, monkeypatch, capsys) -> dict:
    """A script's ``--vq`` run on the dataset at ``root`` with a lossless stand-in tokenizer (False) and one that
    draws every position at the data's mean (True): {flatten: (its JSON report, what it printed)}."""
    import json

    import intermask.loading

    reports = {}
    for flatten in (False, True):
        monkeypatch.setattr(intermask.loading, "load_vq", lambda path: StandInVQ(flatten))
        out = tmp_path / f"recon_{flatten}.json"
        assert script.main(["--data", str(root), "--vq", str(tmp_path / "vq.pt"), "--json", str(out)]) == 0
        reports[flatten] = json.loads(out.read_text()), capsys.readouterr().out
    return reports
