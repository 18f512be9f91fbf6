"""Encoders (backbones): ResNet-18/50 with a small-image stem, a small convnet for 8x8 digits, timm models
(``timm:<name>``, optional install) and the ISSL paper's dimension expansion (+dim). The objective owns its
heads (idealssl.objectives)."""

from .encoders import ENCODERS, Backbone, Encoder, build_encoder

__all__ = ["Backbone", "Encoder", "build_encoder", "ENCODERS"]
