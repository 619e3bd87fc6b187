"""Image augmentation during autoencoder training (random shifts and small rotations).

DEC-DA showed that training on randomly shifted / rotated copies makes the
code ignore where a digit sits and focus on its shape, which is what clusters
should be about. Applied only in training mode; embedding sees clean images.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class RandomAffine(nn.Module):
    """Random translation (up to ``max_shift`` of the image size) and rotation (up to ``max_rotation`` degrees).

    The shift is a fraction so one setting suits 28x28 MNIST (0.08 is about 2
    pixels) and 8x8 digits alike.

    Works on flat rows (n, h*w) or images (n, c, h, w); one vectorised
    ``grid_sample`` call per batch, zeros outside the image.
    """

    def __init__(self, image_shape: tuple[int, int], max_shift: float = 0.08, max_rotation: float = 10.0):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.max_shift, self.max_rotation = max_shift, max_rotation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or (self.max_shift <= 0 and self.max_rotation <= 0):
            return x
        height, width = self.image_shape
        images = x.reshape(len(x), -1, height, width)
        n = len(images)
        angle = (torch.rand(n, device=x.device) * 2 - 1) * math.radians(self.max_rotation)
        # affine_grid works in [-1, 1] coordinates, so a shift by a fraction f of the size is 2 f.
        shift_x = (torch.rand(n, device=x.device) * 2 - 1) * self.max_shift * 2
        shift_y = (torch.rand(n, device=x.device) * 2 - 1) * self.max_shift * 2
        theta = torch.stack(
            [
                torch.stack([angle.cos(), -angle.sin(), shift_x], dim=1),
                torch.stack([angle.sin(), angle.cos(), shift_y], dim=1),
            ],
            dim=1,
        ).to(images.dtype)
        grid = nn.functional.affine_grid(theta, list(images.shape), align_corners=False)
        moved = nn.functional.grid_sample(images, grid, align_corners=False, padding_mode="zeros")
        return moved.reshape(x.shape)
