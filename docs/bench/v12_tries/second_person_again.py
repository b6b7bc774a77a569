"""The evaluation of "The second person decoded again given the first" (docs/synthetic-training.md).

Runs ``python -m intermask.eval`` with its generation changed: after the usual decoding of both people, the second
person's token map is decoded again with the first person's kept (``fixed_ids`` and a whole-person ``keep``, the
reaction path). Everything after the script's name goes to ``intermask.eval``:

    python docs/bench/v12_tries/second_person_again.py --dataset synthetic ckpt=... evaluator_ckpt=... \\
        data.root=data/synthetic data.max_frames=160 protocol.replications=3 ... out=DIR
"""
import runpy
import sys

import intermask.generation.interaction_model as interaction_model
from intermask.generation.decoding import reaction_keep

decode_both = interaction_model.generate


def decode_second_again(model, cond, lengths_tokens, **options):
    ids = decode_both(model, cond, lengths_tokens, **options)
    if options.get("fixed_ids") is not None:  # a reaction or an edit: left as it is
        return ids
    fixed_ids, keep = reaction_keep(ids[:, 0], 0)  # the first person kept whole, the second decoded again
    return decode_both(model, cond, lengths_tokens, **dict(options, fixed_ids=fixed_ids, keep=keep))


interaction_model.generate = decode_second_again
sys.argv = ["intermask.eval", *sys.argv[1:]]
runpy.run_module("intermask.eval", run_name="__main__")
