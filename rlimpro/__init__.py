"""rlimpro: a listening agent that steers a synthesizer to imitate a musician, by reinforcement learning."""

__version__ = "0.2.0"
