"""A small CNN feature extractor for stacked log-mel spectrogram observations (imports torch and SB3).

SB3's ``NatureCNN`` (8x8 stride 4, 4x4 stride 2, 3x3: made for 84 x 84 Atari frames) fits images of
36 x 36 and up but keeps little of a 40 x 40 spectrogram; :class:`SpectrogramCNN` uses three 3x3
convolutions of stride 2 (16, 32, 32 channels) and a linear layer, about 30k weights for 2 x 40 x 40,
cheap enough for training on two CPU cores. Pixel values arrive scaled to [0, 1] by SB3.
"""

from __future__ import annotations

import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, NatureCNN
from torch import nn


class SpectrogramCNN(BaseFeaturesExtractor):
    """Three strided 3x3 convolutions and a linear layer.

    Parameters
    ----------
    observation_space : gymnasium.spaces.Box
        Shape (channels, n_mels, n_frames).
    features_dim : int
        Output features.
    """

    def __init__(self, observation_space, features_dim: int = 128):
        super().__init__(observation_space, features_dim)
        channels = observation_space.shape[0]
        self.cnn = nn.Sequential(
            nn.Conv2d(channels, 16, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 32, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            n_flat = self.cnn(torch.zeros(1, *observation_space.shape)).shape[1]
        self.linear = nn.Sequential(nn.Linear(n_flat, features_dim), nn.ReLU())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.linear(self.cnn(observations))


EXTRACTORS = {"small": SpectrogramCNN, "nature": NatureCNN}
