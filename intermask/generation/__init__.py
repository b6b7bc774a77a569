"""From text to token maps to motion: the iterative decoding loop and the whole text-to-interaction model.

``decoding``: confidence-based iterative decoding of both people's token maps with classifier-free guidance,
and reaction generation (one person's tokens given). ``editing``: keep masks over (person, part, time) for
in-betweening, continuation, body-part edits and windows chained past the model's length. ``interaction_model``: ``InterMask``, the text encoder,
the Inter-M transformer, the frozen VQ-VAE and the feature statistics as one module with ``generate``.
"""
from .decoding import (
    categorical_sample,
    generate,
    generate_reaction,
    guided_logits,
    guided_predictor,
    gumbel_noise,
    reaction_keep,
    gumbel_sample,
    sample_top_k,
    top_k_filter,
)
from .editing import BODY_PART_GROUPS, EditResult, body_parts, edit_interaction, extend_interaction
from .interaction_model import InterMask

__all__ = ["BODY_PART_GROUPS", "EditResult", "InterMask", "body_parts", "edit_interaction", "extend_interaction",
           "reaction_keep", "categorical_sample", "generate", "generate_reaction", "guided_logits", "guided_predictor",
           "gumbel_noise", "gumbel_sample", "sample_top_k", "top_k_filter"]
