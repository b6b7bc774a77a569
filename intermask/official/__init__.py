"""The official InterMask code's checkpoints: their tensor names mapped onto this library's modules
(``weights``) and the published files turned into this library's checkpoints (``conversion``).

What only converted checkpoints need inside the models (the published code's quirks) is listed in
``intermask.models.official_quirks``.
"""
