"""One training loop for every model (``trainer``), its LR schedule (``schedule``) and what each model brings to
it (``tasks``). Checkpoints are ``intermask.checkpoint``."""

from intermask.training.schedule import (
    TRANSFORMER_DECAY,
    VQVAE_DECAY,
    DecaySchedule,
    build_scheduler,
    lr_lambda,
    milestones_from_fractions,
    warmup_steps_from_epoch,
)
from intermask.training.trainer import (
    EpochSampler,
    NonFiniteLossError,
    ResumeInfo,
    Task,
    Trainer,
    TrainerSettings,
    make_loader,
    seed_everything,
    unwrap_model,
)

__all__ = [
    "DecaySchedule",
    "EpochSampler",
    "NonFiniteLossError",
    "ResumeInfo",
    "TRANSFORMER_DECAY",
    "Task",
    "Trainer",
    "TrainerSettings",
    "VQVAE_DECAY",
    "build_scheduler",
    "lr_lambda",
    "make_loader",
    "milestones_from_fractions",
    "seed_everything",
    "unwrap_model",
    "warmup_steps_from_epoch",
]
