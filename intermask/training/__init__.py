"""One training loop for every model, its LR schedule, and self-describing atomic checkpoints."""

from intermask.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    latest_checkpoint,
    load_checkpoint,
    plain_config,
    resolve_checkpoint,
    save_checkpoint,
)
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
    make_loader,
    seed_everything,
    unwrap_model,
)

__all__ = [
    "FORMAT_VERSION",
    "CheckpointError",
    "DecaySchedule",
    "EpochSampler",
    "NonFiniteLossError",
    "ResumeInfo",
    "TRANSFORMER_DECAY",
    "Task",
    "Trainer",
    "VQVAE_DECAY",
    "build_scheduler",
    "latest_checkpoint",
    "load_checkpoint",
    "lr_lambda",
    "make_loader",
    "milestones_from_fractions",
    "plain_config",
    "resolve_checkpoint",
    "save_checkpoint",
    "seed_everything",
    "unwrap_model",
    "warmup_steps_from_epoch",
]
