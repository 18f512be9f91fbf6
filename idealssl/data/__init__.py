"""Datasets in their real on-disk formats and batched, on-device view generation.

``datasets``: readers returning uint8 image tensors (N, C, H, W) and integer labels.
``views``: random resized crop, flip, colour jitter, grayscale, blur, solarisation and multi-crop,
applied to a whole batch at once with tensor operations on the training device.
"""

from .datasets import DATASETS, ImageSet, load_dataset
from .views import ViewConfig, ViewGenerator

__all__ = ["DATASETS", "ImageSet", "load_dataset", "ViewConfig", "ViewGenerator"]
