"""Perceptual descriptors: one registry of names and one analyzer used by every stage."""

from rlimpro.descriptors.analyzer import AnalysisSettings, Analyzer, StreamingAnalyzer
from rlimpro.descriptors.registry import DESCRIPTORS, GROUPS, expand_features

__all__ = ["AnalysisSettings", "Analyzer", "StreamingAnalyzer", "DESCRIPTORS", "GROUPS", "expand_features"]
