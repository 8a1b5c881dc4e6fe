"""A trained SB3 policy exported to numpy: the same deterministic actions, no torch in the loop.

The weights of the acting network are copied once, at load time: the actor of PPO / A2C
(``mlp_extractor.policy_net`` then ``action_net``), DQN's Q-network, SAC's actor (``latent_pi``,
``mu``, then ``tanh``) and TD3's actor (``mu``, ending in ``tanh``). :meth:`NumpyPolicy.predict`
reproduces ``model.predict(obs, deterministic=True)`` including SB3's action post-processing:

- ``Discrete``: argmax of the logits (PPO, A2C) or of the Q-values (DQN);
- ``MultiDiscrete``: argmax per sub-space;
- ``Box`` with ``squash_output`` (SAC, TD3): ``low + (a + 1) / 2 * (high - low)``;
- ``Box`` otherwise (PPO, A2C): the Gaussian mean clipped to ``[low, high]``.

Arithmetic is float32, like SB3's on CPU (observations are cast to float32 first, as SB3 does).
Only MLP policies with SB3's ``FlattenExtractor`` over a 1-D Box observation are exported; gSDE
policies and other feature extractors are refused with a message saying so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rlimpro.errors import MismatchError, NotFoundError, ParameterError

ALGORITHMS = ("PPO", "A2C", "DQN", "SAC", "TD3")

Activation = Callable[[np.ndarray], np.ndarray]


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0, out=x)


def _tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x, out=x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


@dataclasses.dataclass
class Layer:
    """One affine layer ``y = x @ weight + bias`` followed by activations (applied in order)."""

    weight: np.ndarray  # (in, out), float32
    bias: np.ndarray  # (out,), float32
    activations: list[Activation] = dataclasses.field(default_factory=list)


def _activation(module: Any) -> Activation | None:
    """The numpy function of a torch activation module; None for layers that do nothing on 1-D input."""
    import torch.nn as nn

    if isinstance(module, nn.ReLU):
        return _relu
    if isinstance(module, nn.Tanh):
        return _tanh
    if isinstance(module, nn.Sigmoid):
        return _sigmoid
    if isinstance(module, nn.SiLU):
        return _silu
    if isinstance(module, nn.ELU):
        alpha = np.float32(module.alpha)
        return lambda x: np.where(x > 0, x, alpha * np.expm1(x)).astype(np.float32)
    if isinstance(module, nn.LeakyReLU):
        slope = np.float32(module.negative_slope)
        return lambda x: np.where(x > 0, x, slope * x).astype(np.float32)
    if isinstance(module, nn.Hardtanh):
        lo, hi = np.float32(module.min_val), np.float32(module.max_val)
        return lambda x: np.clip(x, lo, hi, out=x)
    if isinstance(module, nn.Identity | nn.Flatten):
        return None
    raise MismatchError(
        f"cannot export layer {type(module).__name__} to numpy; live supports MLP policies "
        "(Linear with ReLU/Tanh/Sigmoid/SiLU/ELU/LeakyReLU activations)"
    )


def _layers(*modules: Any) -> list[Layer]:
    """Flatten torch modules (Linear, activations, Sequential) into numpy :class:`Layer` s."""
    import torch.nn as nn

    out: list[Layer] = []

    def visit(m: Any) -> None:
        if isinstance(m, nn.Sequential):
            for child in m:
                visit(child)
        elif isinstance(m, nn.Linear):
            w = m.weight.detach().cpu().numpy().astype(np.float32).T.copy()
            b = (
                m.bias.detach().cpu().numpy().astype(np.float32).copy()
                if m.bias is not None
                else np.zeros(w.shape[1], np.float32)
            )
            out.append(Layer(weight=np.ascontiguousarray(w), bias=b))
        else:
            fn = _activation(m)
            if fn is None:
                return
            if not out:
                raise MismatchError(f"cannot export {type(m).__name__} before the first Linear layer")
            out[-1].activations.append(fn)

    for module in modules:
        visit(module)
    return out


def _check_extractor(extractor: Any, what: str) -> None:
    from stable_baselines3.common.torch_layers import FlattenExtractor

    if extractor is not None and not isinstance(extractor, FlattenExtractor):
        raise MismatchError(
            f"{what}: features extractor {type(extractor).__name__} is not supported live; "
            "train with the default MLP policy"
        )


class NumpyPolicy:
    """A deterministic MLP policy in numpy.

    Parameters
    ----------
    layers : list of Layer
        The acting network, input first.
    head : {"argmax", "multi_argmax", "clip", "squash"}
        Post-processing of the network output (see the module docstring).
    obs_dim : int
        Length of an observation.
    action_space : gymnasium.spaces.Space
        The model's action space (bounds for ``clip``/``squash``, sub-space sizes for ``multi_argmax``).
    algorithm : str
        Name of the SB3 algorithm the weights came from (for messages).
    """

    def __init__(self, *, layers: list[Layer], head: str, obs_dim: int, action_space: Any, algorithm: str):
        if head not in ("argmax", "multi_argmax", "clip", "squash"):
            raise ParameterError(f"unknown policy head '{head}'")
        self.layers = layers
        self.head = head
        self.obs_dim = int(obs_dim)
        self.action_space = action_space
        self.algorithm = algorithm
        if head in ("clip", "squash"):
            self._low = np.asarray(action_space.low, dtype=np.float32)
            self._high = np.asarray(action_space.high, dtype=np.float32)
            self.action_shape = tuple(action_space.shape)
        elif head == "multi_argmax":
            self._nvec = np.asarray(action_space.nvec, dtype=np.int64)
            self._splits = np.cumsum(self._nvec)[:-1]
            self.action_shape = (len(self._nvec),)
        else:
            self.action_shape = ()

    def forward(self, obs: np.ndarray) -> np.ndarray:
        """Raw network output for a batch, shape (B, obs_dim) -> (B, out), float32."""
        x = np.asarray(obs, dtype=np.float32)
        for layer in self.layers:
            x = x @ layer.weight
            x += layer.bias
            for act in layer.activations:
                x = act(x)
        return x

    def predict(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic action(s), as ``model.predict(obs, deterministic=True)[0]``.

        Parameters
        ----------
        obs : ndarray, shape (obs_dim,) or (B, obs_dim)

        Returns
        -------
        ndarray
            Shape ``action_shape`` for one observation or ``(B, *action_shape)`` for a batch;
            int64 for discrete spaces, float32 for Box spaces.

        Raises
        ------
        ParameterError
            The observation has the wrong length.
        """
        o = np.asarray(obs, dtype=np.float32)
        single = o.ndim == 1
        if single:
            o = o[None, :]
        if o.ndim != 2 or o.shape[1] != self.obs_dim:
            raise ParameterError(f"observation must have {self.obs_dim} values, got shape {np.shape(obs)}")
        y = self.forward(o)
        if self.head == "argmax":
            act = np.argmax(y, axis=1)
        elif self.head == "multi_argmax":
            act = np.stack([np.argmax(part, axis=1) for part in np.split(y, self._splits, axis=1)], axis=1)
        elif self.head == "squash":
            a = np.tanh(y)
            act = self._low + (np.float32(0.5) * (a + np.float32(1.0)) * (self._high - self._low))
        else:
            act = np.clip(y, self._low, self._high)
        return act[0] if single else act


def export_policy(model: Any) -> NumpyPolicy:
    """Copy the acting network of a loaded SB3 model into a :class:`NumpyPolicy`.

    Parameters
    ----------
    model : stable_baselines3 PPO, A2C, DQN, SAC or TD3
        With an MLP policy over a 1-D Box observation space.

    Returns
    -------
    NumpyPolicy

    Raises
    ------
    MismatchError
        Unsupported algorithm, feature extractor, gSDE, layer or action space.
    """
    from gymnasium import spaces

    algo = type(model).__name__
    policy = model.policy
    obs_space = model.observation_space
    if not isinstance(obs_space, spaces.Box) or len(obs_space.shape) != 1:
        raise MismatchError(f"{algo} model: live needs a 1-D Box observation space, got {obs_space}")
    action_space = model.action_space
    obs_dim = int(obs_space.shape[0])

    if algo in ("PPO", "A2C"):
        if getattr(policy, "use_sde", False):
            raise MismatchError(f"{algo} model uses gSDE (use_sde=True), which live does not support")
        _check_extractor(policy.pi_features_extractor, algo)
        layers = _layers(policy.mlp_extractor.policy_net, policy.action_net)
        if isinstance(action_space, spaces.Discrete):
            head = "argmax"
        elif isinstance(action_space, spaces.MultiDiscrete):
            head = "multi_argmax"
        elif isinstance(action_space, spaces.Box):
            head = "squash" if policy.squash_output else "clip"  # SB3's predict: unscale or clip
        else:
            raise MismatchError(f"{algo} model: action space {action_space} is not supported live")
    elif algo == "DQN":
        q = policy.q_net
        _check_extractor(q.features_extractor, algo)
        layers = _layers(q.q_net)
        head = "argmax"
    elif algo == "SAC":
        actor = policy.actor
        if actor.use_sde:
            raise MismatchError("SAC model uses gSDE (use_sde=True), which live does not support")
        _check_extractor(actor.features_extractor, algo)
        layers = _layers(actor.latent_pi, actor.mu)
        head = "squash"
    elif algo == "TD3":
        actor = policy.actor
        _check_extractor(actor.features_extractor, algo)
        seq = list(actor.mu)
        import torch.nn as nn

        if not seq or not isinstance(seq[-1], nn.Tanh):
            raise MismatchError("TD3 actor does not end in Tanh; cannot export it")
        layers = _layers(nn.Sequential(*seq[:-1]))
        head = "squash"
    else:
        raise MismatchError(f"algorithm {algo} is not supported live (supported: {', '.join(ALGORITHMS)})")
    if head in ("clip", "squash") and not isinstance(action_space, spaces.Box):
        raise MismatchError(f"{algo} model: expected a Box action space, got {action_space}")
    if layers and layers[0].weight.shape[0] != obs_dim:
        raise MismatchError(f"{algo} model: first layer takes {layers[0].weight.shape[0]} inputs, observation has {obs_dim}")
    return NumpyPolicy(layers=layers, head=head, obs_dim=obs_dim, action_space=action_space, algorithm=algo)


def algorithm_of_zip(path: Path) -> str:
    """Guess the SB3 algorithm of a saved model from its zip (policy class and hyper-parameters).

    Raises
    ------
    NotFoundError
        ``path`` is missing or not an SB3 model zip.
    MismatchError
        The policy class is not one of PPO, A2C, DQN, SAC, TD3.
    """
    import json
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"model file {path} does not exist")
    try:
        with zipfile.ZipFile(path) as zf:
            data = json.loads(zf.read("data").decode())
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NotFoundError(f"{path} is not a Stable-Baselines3 model zip ({exc})") from exc
    module = str(data.get("policy_class", {}).get("__module__", ""))
    for algo in ("dqn", "sac", "td3"):
        if f"stable_baselines3.{algo}." in module:
            return algo.upper()
    if "stable_baselines3.common.policies" in module:
        return "PPO" if "clip_range" in data else "A2C"
    raise MismatchError(f"{path}: policy class from '{module or 'unknown module'}' is not PPO, A2C, DQN, SAC or TD3")


def load_sb3(path: Path, *, algorithm: str | None = None) -> Any:
    """Load an SB3 model zip on CPU (once); ``algorithm`` defaults to :func:`algorithm_of_zip`.

    The zip is checked first (:func:`rlimpro.modelzip.check_model_zip`): nothing in it is unpickled
    except through an allow-list of classes.

    Raises
    ------
    NotFoundError, MismatchError, UnsafeModelError
    """
    import stable_baselines3

    algo = (algorithm or algorithm_of_zip(path)).upper()
    if algo not in ALGORITHMS:
        raise MismatchError(f"algorithm '{algorithm}' is not supported live (supported: {', '.join(ALGORITHMS)})")
    cls = getattr(stable_baselines3, algo)
    from rlimpro.modelzip import load_model

    try:
        return load_model(Path(path), cls)  # refuses a zip that does not hold what rlimpro writes
    except (ValueError, KeyError, RuntimeError) as exc:
        raise MismatchError(f"cannot load {path} as a {algo} model: {exc}") from exc
