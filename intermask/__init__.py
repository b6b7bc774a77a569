"""intermask: text to two-person 3D interaction with a 2D motion VQ-VAE and the Inter-M masked transformer."""

__version__ = "0.1.0"
