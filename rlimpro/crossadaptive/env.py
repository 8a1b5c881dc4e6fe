"""The gymnasium environment ``rlimpro/CrossAdaptive-v0``: effects on one musician, following another.

Per step ``t`` at frame index ``i`` of a source/target pair (one clock for both, see
:mod:`rlimpro.crossadaptive.paired`):

1. the observation the agent acted on held the dry source frame ``i``, the processed frame ``i - 1``
   (the last one the effects produced), the target frame ``i`` and the parameters — exactly what a
   live agent has once hop ``i`` of both musicians has arrived;
2. the action gives the new effect parameters (:class:`~rlimpro.env.actions.ActionMap`: ``absolute``
   by default, or ``continuous`` / ``discrete`` steps), clipped to [0, 1];
3. the effect chain processes source hop ``i``, ramping to the new parameters
   (:class:`~rlimpro.effects.chain.EffectChain`), and the streaming analyzer turns the processed hop
   into processed frame ``i``;
4. the reward compares processed frame ``i`` with target frame ``i`` — the same time — by the weighted
   z-space RMSE over ``features_reward`` shaped by ``reward_type`` (:mod:`rlimpro.env.rewards`);
   ``info["distance"]`` is that RMSE and ``info["dry_distance"]`` the dry source frame's.

Episodes are truncated at ``max_episode_steps`` (training: a random stretch of a random pair,
random starting parameters, the effects run in for ``preroll`` hops before it) or at the end of the
pair (``max_episode_steps=None``; evaluation: the whole pair from frame 0 and the chain's defaults).

Reset options: ``{"pair": name}`` plays that pair whole from frame 0; ``{"params": [...]}`` sets the
starting parameters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from rlimpro.crossadaptive.features import CrossFeatures
from rlimpro.crossadaptive.material import Pair
from rlimpro.crossadaptive.paired import analyze_pair, shared_analyzer
from rlimpro.descriptors.analyzer import AnalysisSettings, Analyzer, StreamingAnalyzer
from rlimpro.env.actions import ActionMap
from rlimpro.env.rewards import Reward
from rlimpro.errors import MismatchError, ParameterError


class Processor:
    """The effect chain on the source and the streaming analysis of its output, hop by hop.

    The one code path that training, evaluation and live use to turn a source hop and parameters into
    processed audio and the processed frame.

    Parameters
    ----------
    chain : EffectChain
    analyzer : Analyzer
        At the chain's sample rate.
    """

    def __init__(self, chain: Any, analyzer: Analyzer):
        if chain.sample_rate != analyzer.settings.sample_rate:
            raise MismatchError(f"effect chain at {chain.sample_rate} Hz, analysis at {analyzer.settings.sample_rate} Hz")
        self.chain = chain
        self.stream = StreamingAnalyzer(analyzer=analyzer)
        self.hop = analyzer.settings.hop
        #: descriptors of silence: the processed frame before any audio
        self.silence = analyzer.kernel(np.zeros((1, analyzer.settings.window)))[0]
        self.frame = self.silence.copy()

    def reset(self, params: np.ndarray | None = None) -> None:
        """Forget all audio; the chain starts at ``params`` (default: its defaults)."""
        self.chain.reset(params)
        self.stream.reset()
        self.frame = self.silence.copy()

    def step(self, source_hop: np.ndarray, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Process one hop of the source ramping to ``params``.

        Returns
        -------
        processed : ndarray, shape (hop,)
        frame : ndarray, shape (len(DESCRIPTORS),)
            Raw descriptors of the processed signal's frame ending with this hop.
        """
        out = self.chain.process(source_hop, params)
        self.frame = self.stream.push_hop(out)
        return out, self.frame


class AnalyzedPair:
    """A pair with its dry and target frames (batch analysis, identical to the streaming frames).

    Parameters
    ----------
    pair : Pair
    analyzer : Analyzer
    """

    def __init__(self, pair: Pair, analyzer: Analyzer):
        if pair.sample_rate != analyzer.settings.sample_rate:
            raise MismatchError(f"pair '{pair.name}' is at {pair.sample_rate} Hz, the analysis at {analyzer.settings.sample_rate} Hz")
        self.name = pair.name
        self.pair = pair
        self.dry, self.target = analyze_pair(pair.source, pair.target, analyzer=analyzer)
        hop = analyzer.settings.hop
        self.n_frames = self.dry.shape[0]
        padded = np.zeros(self.n_frames * hop)
        padded[: pair.source.size] = pair.source
        #: the source cut into hops, shape (n_frames, hop); hop i is the last hop of frame i's window
        self.hops = padded.reshape(self.n_frames, hop)


class CrossAdaptiveEnv(gym.Env):
    """Process a source with an effect chain so that its descriptors follow a target's.

    Parameters
    ----------
    pairs : mapping name -> AnalyzedPair
        The material (at least one pair with at least one frame).
    chain_spec : list
        The effect chain as a config list (see :mod:`rlimpro.effects.chain`); every env builds its own.
    features : CrossFeatures
        Observation and reward features with their z-scoring; ``n_params`` must be the chain's.
    settings : AnalysisSettings
    ramp : int
        Parameter ramp, samples.
    action_type : {"absolute", "continuous", "discrete"}
    step_size : float
        Parameter change per step (incremental action types).
    reward : Reward, optional
        Default ``Reward("linear")``.
    max_episode_steps : int or None
        Episode length; None plays pairs whole from frame 0.
    order : {"random", "cycle"}
        Draw pairs at random (training) or play them in turn (evaluation).
    start : {"random", "default"}
        Starting parameters: uniform random, or ``default_params``.
    default_params : array-like, shape (N,), optional
        Default: the chain's defaults.
    preroll : int
        Hops processed with the starting parameters before an episode that starts inside a pair.
    render_mode : None
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        *,
        pairs: Mapping[str, AnalyzedPair],
        chain_spec: Sequence[Any],
        features: CrossFeatures,
        settings: AnalysisSettings,
        ramp: int = 128,
        action_type: str = "absolute",
        step_size: float = 0.05,
        reward: Reward | None = None,
        max_episode_steps: int | None = 128,
        order: str = "random",
        start: str = "random",
        default_params: np.ndarray | None = None,
        preroll: int = 2,
        render_mode: str | None = None,
    ):
        from rlimpro.effects.chain import EffectChain

        super().__init__()
        if render_mode is not None:
            raise ParameterError(f"render_mode {render_mode!r}: this environment does not render (use rlimpro live)")
        if order not in ("random", "cycle") or start not in ("random", "default"):
            raise ParameterError(f"order '{order}' / start '{start}': choose random|cycle and random|default")
        if max_episode_steps is not None and max_episode_steps < 1:
            raise ParameterError(f"max_episode_steps {max_episode_steps} must be >= 1 or None")
        self.pairs = {k: v for k, v in pairs.items() if v.n_frames > 0}
        if not self.pairs:
            raise ParameterError("the cross-adaptive environment needs at least one source/target pair")
        self.names = list(self.pairs)
        analyzer = shared_analyzer(settings)
        self.settings = settings
        self.chain = EffectChain.from_spec(list(chain_spec), sample_rate=settings.sample_rate, ramp=ramp)
        if features.n_params != self.chain.n_params:
            raise MismatchError(
                f"the feature space was made for {features.n_params} effect parameters, the chain "
                f"({', '.join(self.chain.param_names)}) has {self.chain.n_params}"
            )
        self.processor = Processor(self.chain, analyzer)
        self.features = features
        self.n_params = self.chain.n_params
        self.actions = ActionMap(action_type, n_params=self.n_params, step_size=step_size)
        self.reward_fn = reward or Reward("linear")
        self.max_episode_steps = max_episode_steps
        self.order = order
        self.start = start
        self.preroll = int(preroll)
        self.default_params = self.chain.defaults.copy() if default_params is None else self.chain.check_params(default_params)
        fs = features.feature_space
        # per pair: observation z of dry and target frames, and the dry frames' distances
        self._dry_obs = {k: fs.obs_features(p.dry).astype(np.float32) for k, p in self.pairs.items()}
        self._tgt_obs = {k: fs.obs_features(p.target).astype(np.float32) for k, p in self.pairs.items()}
        self._tgt_rew = {k: fs.reward_features(p.target) for k, p in self.pairs.items()}
        self._dry_dist = {k: features.distance(p.dry, p.target) for k, p in self.pairs.items()}
        self.action_space = self.actions.space()
        self.observation_space = features.observation_space()
        self._f = features.n_features
        self.params = self.default_params.copy()
        self.pair: AnalyzedPair | None = None
        #: the processed audio of the last step, shape (hop,)
        self.last_output = np.zeros(settings.hop)
        self._cycle = 0
        self._start = 0
        self._t = 0
        self._len = 0

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        name = options.get("pair")
        if name is not None:
            if name not in self.pairs:
                from rlimpro.workspace import did_you_mean

                raise ParameterError(f"pair '{name}' is not in this environment{did_you_mean(str(name), self.names)} "
                                     f"(pairs: {', '.join(self.names)})")
            whole = True
        elif self.order == "cycle":
            name = self.names[self._cycle % len(self.names)]
            self._cycle += 1
            whole = self.max_episode_steps is None
        else:
            name = self.names[int(self.np_random.integers(len(self.names)))]
            whole = self.max_episode_steps is None
        pair = self.pair = self.pairs[name]
        if options.get("params") is not None:
            p = np.asarray(options["params"], dtype=np.float64)
            if p.shape != (self.n_params,) or not np.isfinite(p).all():
                raise ParameterError(f"options['params'] must be {self.n_params} finite numbers in [0, 1], got {p!r}")
            self.params = np.clip(p, 0.0, 1.0)
        elif self.start == "default" or options.get("pair") is not None:
            self.params = self.default_params.copy()
        else:
            self.params = self.np_random.random(self.n_params)
        if whole:
            self._start, self._len = 0, pair.n_frames
        else:
            self._len = min(int(self.max_episode_steps), pair.n_frames)
            self._start = int(self.np_random.integers(pair.n_frames - self._len + 1))
        self.processor.reset(self.params)
        for i in range(max(0, self._start - self.preroll), self._start):
            self.processor.step(pair.hops[i], self.params)
        self._t = 0
        info = {"pair": name, "start": self._start, "frames": self._len}
        return self._observation(self._start), info

    def step(self, action):
        if self.pair is None:
            raise ParameterError("call reset() before step()")
        pair = self.pair
        i = self._start + self._t
        self.params = self.actions.apply(self.params, action)
        self.last_output, frame = self.processor.step(pair.hops[i], self.params)
        diff = self.features.feature_space.reward_features(frame) - self._tgt_rew[pair.name][i]
        distance = math.sqrt(float(np.dot(diff, diff)))
        reward = self.reward_fn(distance)
        self._t += 1
        truncated = self._t >= self._len
        obs = self._observation(i if truncated else i + 1)
        info = {"distance": distance, "dry_distance": float(self._dry_dist[pair.name][i]), "frame": i}
        return obs, reward, False, truncated, info

    def _observation(self, i: int) -> np.ndarray:
        f = self._f
        name = self.pair.name
        obs = np.empty(3 * f + self.n_params, dtype=np.float32)
        obs[:f] = self._dry_obs[name][i]
        obs[f : 2 * f] = self.features.feature_space.obs_features(self.processor.frame)
        obs[2 * f : 3 * f] = self._tgt_obs[name][i]
        obs[3 * f :] = self.params
        return obs

    # ------------------------------------------------------------------ helpers
    @property
    def frame_index(self) -> int:
        """Index of the frame the next step processes."""
        return self._start + self._t

    def processed_frame(self) -> np.ndarray:
        """Raw descriptors of the last processed frame, shape (len(DESCRIPTORS),)."""
        return self.processor.frame.copy()
