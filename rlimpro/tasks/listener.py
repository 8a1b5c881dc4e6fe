"""Listening to rendered sounds: descriptors, log-mel images and the distance a task's reward uses.

A :class:`Listener` is built once per environment for sounds of one length. :meth:`Listener.listen`
turns a sound into a :class:`Heard` (only what the task needs is computed):

- ``descriptors``: every descriptor of :data:`~rlimpro.descriptors.DESCRIPTORS`, the mean over the
  frames whose analysis window lies inside the sound (as a lookup row is made; all frames when the
  sound is shorter than two windows), raw units;
- ``spectra``: multi-scale magnitude spectrograms (:mod:`rlimpro.tasks.spectral`);
- ``image``: the uint8 log-mel image (:mod:`rlimpro.tasks.melimage`).

Distances (:meth:`Listener.distance`): ``descriptors`` is the feature space's weighted RMSE in z space
over ``features_reward`` (the imitation task's metric); ``spectral`` the multi-scale spectral distance.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rlimpro.descriptors.analyzer import AnalysisSettings, Analyzer
from rlimpro.descriptors.derived import derive
from rlimpro.env.features import FeatureSpace
from rlimpro.errors import ParameterError
from rlimpro.tasks.melimage import MelImage
from rlimpro.tasks.settings import DistanceKind, ObservationKind
from rlimpro.tasks.spectral import MultiScaleSpectrum

DISTANCES = ("descriptors", "spectral")
OBSERVATIONS = ("descriptors", "spectrogram")


@dataclasses.dataclass
class Heard:
    """What a listener extracted from one sound (fields it was not asked for are None)."""

    descriptors: np.ndarray | None = None
    spectra: list[np.ndarray] | None = None
    image: np.ndarray | None = None


def mean_descriptors(analyzer: Analyzer, audio: np.ndarray) -> np.ndarray:
    """Mean raw descriptors of a sound, shape (len(DESCRIPTORS),) (frames inside the sound; all when too short)."""
    s = analyzer.settings
    frames = analyzer.analyze(np.asarray(audio, dtype=np.float64))
    first = -(-s.window // s.hop) - 1
    last = audio.shape[-1] // s.hop
    inside = frames[first:last] if last > first else frames
    return derive(inside.mean(axis=0))


class Listener:
    """Extract descriptors / spectra / images from sounds of ``n_samples`` samples and compare them.

    Parameters
    ----------
    sample_rate : int
        Hz.
    n_samples : int
        Length of every sound compared.
    analysis : AnalysisSettings
        Descriptor analysis (its sample rate must be ``sample_rate``).
    distance : {"descriptors", "spectral"}
    observation : {"descriptors", "spectrogram"}
    feature_space : FeatureSpace, optional
        Needed for the descriptors distance and observation.
    spectral : MultiScaleSpectrum, optional
        Default: :class:`MultiScaleSpectrum` with its default scales.
    image : MelImage, optional
        Default: a 40 x 40 :class:`MelImage` (spectrogram observation only).
    """

    def __init__(
        self,
        *,
        sample_rate: int,
        n_samples: int,
        analysis: AnalysisSettings,
        distance: DistanceKind = "descriptors",
        observation: ObservationKind = "descriptors",
        feature_space: FeatureSpace | None = None,
        spectral: MultiScaleSpectrum | None = None,
        image: MelImage | None = None,
    ):
        if distance not in DISTANCES:
            raise ParameterError(f"distance '{distance}': choose {' or '.join(DISTANCES)}")
        if observation not in OBSERVATIONS:
            raise ParameterError(f"observation '{observation}': choose {' or '.join(OBSERVATIONS)}")
        if analysis.sample_rate != sample_rate:
            raise ParameterError(f"analysis sample rate {analysis.sample_rate} Hz differs from the task's {sample_rate} Hz")
        if (distance == "descriptors" or observation == "descriptors") and feature_space is None:
            raise ParameterError("the descriptors distance and observation need a feature space")
        self.sample_rate = sample_rate
        self.n_samples = int(n_samples)
        self.distance_kind = distance
        self.observation_kind = observation
        self.feature_space = feature_space
        self.analyzer = Analyzer(analysis)
        self.spectral = spectral or MultiScaleSpectrum()
        self.image = image if observation != "spectrogram" or image is not None else MelImage(sample_rate=sample_rate, n_samples=self.n_samples)
        if distance == "spectral":
            self.spectral.spectra(np.zeros(self.n_samples))  # too short for every scale: error now, not mid-training

    def listen(self, audio: np.ndarray, *, descriptors: bool | None = None) -> Heard:
        """Analyze one sound, shape (n_samples,); ``descriptors=True`` forces the descriptor summary."""
        audio = np.asarray(audio, dtype=np.float64).ravel()
        if audio.size != self.n_samples:
            raise ParameterError(f"expected a sound of {self.n_samples} samples, got {audio.size}")
        heard = Heard()
        want_desc = descriptors or self.distance_kind == "descriptors" or self.observation_kind == "descriptors"
        if want_desc:
            heard.descriptors = mean_descriptors(self.analyzer, audio)
        if self.distance_kind == "spectral":
            heard.spectra = self.spectral.spectra(audio)
        if self.observation_kind == "spectrogram":
            heard.image = self.image(audio)  # type: ignore[misc]
        return heard

    def distance(self, heard: Heard, target: Heard) -> float:
        """Distance of a sound to the target, >= 0 (the task's metric)."""
        if self.distance_kind == "spectral":
            return MultiScaleSpectrum.distance(heard.spectra, target.spectra)  # type: ignore[arg-type]
        return float(self.feature_space.distance(heard.descriptors, target.descriptors))  # type: ignore[union-attr]


def feature_space_from_sounds(
    audio: np.ndarray, *, analysis: AnalysisSettings, features: list[str], features_reward: list[str], n_params: int,
    reward_weights: dict[str, float] | None = None, source: str = "config",
) -> FeatureSpace:
    """A feature space z-scored with the statistics of sounds (e.g. the synth at random controls).

    Parameters
    ----------
    audio : ndarray, shape (B, n_samples)
        B >= 2 sounds.
    n_params : int
        Size of the parameter part of the observation (the task's controls).
    """
    analyzer = Analyzer(analysis)
    desc = np.stack([mean_descriptors(analyzer, a) for a in np.asarray(audio)])
    return FeatureSpace.from_lookup(
        desc, features=features, features_reward=features_reward, n_params=n_params,
        reward_weights=reward_weights, source=source,
    )
