"""The live agent: one decision per incoming frame, exactly as the environment steps in training.

Per frame ``t`` with the musician's raw descriptors ``target_t`` (the environment's step, see
:mod:`rlimpro.env.improvisation`):

1. observation = :meth:`FeatureSpace.observation` of ``[synth descriptors at params_{t-1},
   target_t, params_{t-1}]`` — the feature-space object of the run, the one training used;
2. action = the numpy policy's deterministic action (:mod:`rlimpro.live.policy`);
3. ``params_t`` = the run's :class:`~rlimpro.env.actions.ActionMap` applied to ``params_{t-1}``
   (discrete / continuous incremental by ``step_size``, or absolute), clipped to [0, 1];
4. the agent's own descriptors at ``params_t`` from the lookup-grid synth model
   (:class:`~rlimpro.env.synth_model.LookupGrid`, the run's interpolation) — the model training used,
   so live matches training, and the descriptors the session log records.

Silence: a run trained with ``active_only`` (the default) never saw inactive corpus frames (unsmoothed
RMS loudness at or below the corpus silence threshold, -60 dBFS). Live, such frames are not decided
on: the parameters are held until the musician plays again, which is the live equivalent of
skipping them, and keeps the session's trajectory the evaluation's. Meanwhile the outputs that make
sound follow the run's ``silence`` (:mod:`rlimpro.synths.silence`; ``fade`` by default: silent
within 100 ms, back with the next note).

A run that observes a goal (``observe_goal``) gets it per frame from the run's follower
(:class:`~rlimpro.env.players.Follower`: a KD-tree query over the lookup rows), as in training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.descriptors.analyzer import LOUDNESS_FLOOR_DB, AnalysisSettings, StreamingAnalyzer
from rlimpro.descriptors.registry import DESCRIPTORS
from rlimpro.errors import MismatchError, NotFoundError, ParameterError
from rlimpro.tables import check_same_analysis

_SILENCE_RMS = 10.0 ** (LOUDNESS_FLOOR_DB / 20.0)


class LiveAgent:
    """A trained policy with its feature space, action map, synth model and analyzer.

    Parameters
    ----------
    policy : NumpyPolicy
        ``predict(obs) -> action``.
    feature_space : FeatureSpace
        The run's observation features and z-scoring.
    actions : ActionMap
        The run's action type and step size.
    grid : LookupGrid
        Raw descriptors of the lookup grid with the run's interpolation.
    spec : SynthSpec
        The synth (parameters, native engine for audio output).
    settings : AnalysisSettings
        The run's analysis settings.
    initial_params : ndarray, shape (N,)
        Where the session starts (the synth's defaults, as evaluation starts).
    silence_db : float or None
        Frames whose unsmoothed loudness is at or below this are not decided on (parameters held);
        None decides on every frame.
    run_dir, model_path : Path
        Where the model came from (for the log).
    algorithm, action_type : str
    silence : {"hold", "fade", "gate"}
        What the sound outputs do while the musician rests.
    """

    def __init__(
        self,
        *,
        policy: Any,
        feature_space: Any,
        actions: Any,
        grid: Any,
        spec: Any,
        settings: AnalysisSettings,
        initial_params: np.ndarray,
        silence_db: float | None = None,
        run_dir: Path | None = None,
        model_path: Path | None = None,
        algorithm: str = "",
        sb3_model: Any = None,
        silence: str = "hold",
    ):
        n = feature_space.n_params
        if grid.n_params != n or actions.n_params != n or spec.n_params != n:
            raise MismatchError(
                f"parameter counts differ: feature space {n}, lookup grid {grid.n_params}, "
                f"actions {actions.n_params}, synth '{spec.name}' {spec.n_params}"
            )
        if policy.obs_dim != feature_space.observation_size:
            raise MismatchError(
                f"the model takes observations of {policy.obs_dim} values, the run's feature space makes "
                f"{feature_space.observation_size}; the model and its run do not belong together"
            )
        self.policy = policy
        self.features = feature_space
        self.actions = actions
        self.grid = grid
        self.spec = spec
        self.settings = settings
        self.n_params = n
        self.descriptor_names = DESCRIPTORS
        self.silence_db = silence_db
        self.run_dir = run_dir
        self.model_path = model_path
        self.algorithm = algorithm
        self.action_type = actions.action_type
        self.sb3_model = sb3_model
        self.silence = silence
        self.follower = None
        if feature_space.goal:
            from rlimpro.env.players import Follower

            self.follower = Follower(feature_space, grid.values, grid.grid_params())
        self.initial_params = np.clip(np.asarray(initial_params, dtype=np.float64), 0.0, 1.0)
        if self.initial_params.shape != (n,):
            raise ParameterError(f"initial parameters must have shape ({n},), got {self.initial_params.shape}")
        self.analyzer = StreamingAnalyzer(settings)
        self._engine = None
        self.reset()

    def reset(self) -> None:
        """Back to the initial parameters; forget all audio."""
        self.params = self.initial_params.copy()
        self.synth = self.grid(self.params)
        self.analyzer.reset()
        self._window = np.zeros(self.settings.window)
        self.decisions = 0
        self.held = 0

    # ------------------------------------------------------------------ per frame
    def decide(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One step: observation, policy, action, synth model.

        Parameters
        ----------
        target : ndarray, shape (len(DESCRIPTORS),)
            The musician's raw descriptor frame.

        Returns
        -------
        params : ndarray, shape (N,)
            The new parameters in [0, 1] (a new array each call).
        descriptors : ndarray, shape (len(DESCRIPTORS),)
            The synth's raw descriptors at ``params`` from the lookup grid.
        """
        obs = self._observation(target)
        action = self.policy.predict(obs)
        self.params = self.actions.apply(self.params, action)
        self.synth = self.grid(self.params)
        self.decisions += 1
        return self.params, self.synth

    def decide_sb3(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`decide` through SB3's own ``predict`` (torch), for comparison in benchmarks."""
        obs = self._observation(target)
        action, _ = self.sb3_model.predict(obs, deterministic=True)
        self.params = self.actions.apply(self.params, action)
        self.synth = self.grid(self.params)
        self.decisions += 1
        return self.params, self.synth

    def _observation(self, target: np.ndarray) -> np.ndarray:
        goal = None if self.follower is None else self.follower.params(target)[0]
        return self.features.observation(synth=self.synth, target=target, params=self.params, goal=goal)

    def hold(self) -> tuple[np.ndarray, np.ndarray]:
        """No decision (silence): the current parameters and descriptors."""
        self.held += 1
        return self.params, self.synth

    def hop_is_active(self, hop: np.ndarray) -> bool:
        """Push ``hop`` into the activity window; True when the window's RMS loudness is above ``silence_db``.

        The window is the analyzer's (the last ``window`` samples); loudness is unsmoothed RMS in dBFS,
        the corpus stage's ``active`` rule.
        """
        h = hop.shape[0]
        w = self._window
        w[:-h] = w[h:]
        w[-h:] = hop
        if self.silence_db is None:
            return True
        rms = np.sqrt(np.mean(w * w))
        return 20.0 * np.log10(max(rms, _SILENCE_RMS)) > self.silence_db

    def frame_is_active(self, target: np.ndarray) -> bool:
        """For frames analyzed elsewhere (OSC): True when the frame's loudness is above ``silence_db``."""
        return self.silence_db is None or float(target[0]) > self.silence_db

    # ------------------------------------------------------------------ audio
    def voice(self, *, sample_rate: int) -> Any:
        """A fresh voice of the synth's engine at ``sample_rate`` starting at the current parameters."""
        from rlimpro.synths import make_engine

        if self._engine is None:
            self._engine = make_engine(self.spec)
        v = self._engine.voice(sample_rate=sample_rate)
        v.params = self.params.copy()
        return v


# ---------------------------------------------------------------------- loading a run
def load_agent(*, synth: str, model: str, workspace: Path) -> LiveAgent:
    """Build the live agent of a trained run, from the run folder alone.

    The run is self-contained (see :mod:`rlimpro.runs`): ``config.yaml`` (action type, step size,
    algorithm, ``active_only``), ``feature_space.json``, ``synth_model.npz`` (the lookup grid it was
    trained on), ``run.json`` (analysis settings, default parameters) and ``best_model.zip`` /
    ``final_model.zip`` (best first, as evaluation uses).

    Parameters
    ----------
    synth : str
        Synth name; the run must be of this synth.
    model : str
        ``latest``, a run id, a run folder or a model zip (see :func:`rlimpro.runs.resolve_run`).
    workspace : Path

    Raises
    ------
    NotFoundError
        No such run, or the run is incomplete.
    MismatchError
        The run is of another synth, its analysis settings do not match this rlimpro's analyzer, its
        model does not fit its config, or the model cannot be exported to numpy.
    """
    from rlimpro.env.actions import ActionMap
    from rlimpro.live.policy import export_policy, load_sb3
    from rlimpro.runs import (
        load_config,
        load_feature_space,
        load_synth_model,
        model_zip,
        read_run_json,
        resolve_run,
    )
    from rlimpro.synths import load_spec

    workspace = Path(workspace)
    run_dir = Path(resolve_run(model, synth=synth, workspace=workspace))
    zip_path = model_zip(model, run_dir=run_dir, workspace=workspace)
    info = read_run_json(run_dir)
    config = load_config(run_dir)
    if config.synth != synth:
        raise MismatchError(f"run {run_dir.name} was trained on synth '{config.synth}', not '{synth}'")
    analysis = info.get("analysis")
    if not analysis:
        raise NotFoundError(f"{run_dir / 'run.json'} records no analysis settings; the run is incomplete, train again")
    settings = AnalysisSettings.from_dict(analysis)
    # the run's settings, including the analyzer's fixed constants, must be this analyzer's
    check_same_analysis(analysis, settings.to_dict(), a_name=f"run {run_dir.name}", b_name="this rlimpro's analyzer")
    feature_space = load_feature_space(run_dir)
    grid = load_synth_model(run_dir)
    spec = load_spec(synth, workspace=workspace, n_params=grid.n_params)
    actions = ActionMap(config.action_type, n_params=grid.n_params, step_size=config.step_size)
    sb3_model = load_sb3(zip_path, algorithm=config.algorithm)
    if sb3_model.action_space != actions.space():
        raise MismatchError(
            f"{zip_path} acts in {sb3_model.action_space}, but run {run_dir.name} has {config.action_type} "
            f"actions over {grid.n_params} parameters ({actions.space()})"
        )
    policy = export_policy(sb3_model)
    defaults = np.asarray(info.get("default_params") or [0.5] * grid.n_params, dtype=np.float64)
    silence_db = None
    if config.active_only:
        from rlimpro.corpus import SILENCE_THRESHOLD_DB

        silence_db = SILENCE_THRESHOLD_DB
    return LiveAgent(
        policy=policy,
        feature_space=feature_space,
        actions=actions,
        grid=grid,
        spec=spec,
        settings=settings,
        initial_params=defaults,
        silence_db=silence_db,
        run_dir=run_dir,
        model_path=zip_path,
        algorithm=type(sb3_model).__name__,
        sb3_model=sb3_model,
        silence=getattr(config, "silence", "hold"),
    )
