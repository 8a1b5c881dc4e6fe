"""Load a Stable-Baselines3 model zip without running code from it.

An SB3 zip holds ``data`` (JSON whose non-JSON values are cloudpickled, base64 in ``:serialized:``),
``policy.pth`` / ``pytorch_variables.pth`` / optimizer states (``torch.load`` with
``weights_only=True``: tensors only) and two text files. Unpickling ``data`` with SB3's own loader runs
whatever the pickles say: a crafted ``lr_schedule`` ran a shell command under ``live`` and
``evaluate``. So :func:`check_model_zip` refuses a zip that does not hold what rlimpro writes:

- exactly the members SB3 writes for rlimpro's algorithms (no others, none too large);
- ``data`` is a JSON object whose serialized entries are only the keys SB3 serializes;
- every serialized entry unpickles with an allow-list of classes and functions (numpy arrays and
  random generators, gymnasium spaces, SB3's policy, buffer and schedule classes, torch optimizers and
  activations, rlimpro's feature extractors): any other global (``os.system``, ``builtins.eval``,
  cloudpickle's code objects, ...) is refused before it is looked up, so nothing is called.

:func:`load_model` then passes those already-decoded values to SB3's ``load`` as ``custom_objects``,
so SB3 never unpickles anything itself. Still, load only models you trust: this blocks code in the
zip's metadata, not a policy trained to misbehave.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

from rlimpro.errors import NotFoundError, UnsafeModelError

REQUIRED_MEMBERS = frozenset({"data", "policy.pth", "pytorch_variables.pth"})
OPTIONAL_MEMBERS = frozenset({
    "_stable_baselines3_version", "system_info.txt",
    "policy.optimizer.pth", "actor.optimizer.pth", "critic.optimizer.pth", "ent_coef_optimizer.pth",
})
MAX_MEMBER_BYTES = 512 * 2**20  #: uncompressed, per member
MAX_DATA_BYTES = 64 * 2**20  #: the JSON metadata

#: Keys whose values SB3 serializes with cloudpickle for PPO, A2C, DQN, SAC and TD3.
SERIALIZED_KEYS = frozenset({
    "policy_class", "policy_kwargs", "observation_space", "action_space", "lr_schedule", "clip_range",
    "clip_range_vf", "exploration_schedule", "rollout_buffer_class", "rollout_buffer_kwargs",
    "replay_buffer_class", "replay_buffer_kwargs", "train_freq", "action_noise", "_last_obs",
    "_last_episode_starts", "_last_original_obs", "ep_info_buffer", "ep_success_buffer", "target_kl",
    "learning_rate", "ent_coef", "target_entropy", "batch_norm_stats", "batch_norm_stats_target",
})


def _names(module: str, *names: str) -> set[tuple[str, str]]:
    return {(module, n) for n in names}


#: (module, name) pairs a serialized entry may refer to.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    _names("builtins", "slice", "frozenset", "set", "complex", "bytearray")
    | _names("collections", "deque", "OrderedDict")
    | _names("numpy", "dtype", "ndarray")
    | {(m, n) for m in ("numpy._core.numeric", "numpy.core.numeric") for n in ("_frombuffer",)}
    | {(m, n) for m in ("numpy._core.multiarray", "numpy.core.multiarray") for n in ("scalar", "_reconstruct")}
    | _names("numpy.random._pickle", "__generator_ctor", "__bit_generator_ctor", "__randomstate_ctor")
    | _names("numpy.random._pcg64", "PCG64", "PCG64DXSM")
    | _names("numpy.random._mt19937", "MT19937")
    | _names("numpy.random._philox", "Philox")
    | _names("numpy.random._sfc64", "SFC64")
    | _names("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence", "SeedSequence")
    | _names("numpy.random._generator", "Generator")
    | _names("gymnasium.spaces.box", "Box")
    | _names("gymnasium.spaces.discrete", "Discrete")
    | _names("gymnasium.spaces.multi_discrete", "MultiDiscrete")
    | _names("gymnasium.spaces.multi_binary", "MultiBinary")
    | _names("gymnasium.spaces.dict", "Dict")
    | _names("gymnasium.spaces.tuple", "Tuple")
    | _names("stable_baselines3.common.policies", "ActorCriticPolicy", "ActorCriticCnnPolicy",
             "MultiInputActorCriticPolicy")
    | _names("stable_baselines3.dqn.policies", "DQNPolicy", "CnnPolicy", "MultiInputPolicy")
    | _names("stable_baselines3.sac.policies", "SACPolicy", "CnnPolicy", "MultiInputPolicy")
    | _names("stable_baselines3.td3.policies", "TD3Policy", "CnnPolicy", "MultiInputPolicy")
    | _names("stable_baselines3.common.buffers", "RolloutBuffer", "ReplayBuffer", "DictRolloutBuffer",
             "DictReplayBuffer")
    | _names("stable_baselines3.common.utils", "FloatSchedule", "ConstantSchedule", "LinearSchedule")
    | _names("stable_baselines3.common.type_aliases", "TrainFreq", "TrainFrequencyUnit")
    | _names("stable_baselines3.common.noise", "NormalActionNoise", "OrnsteinUhlenbeckActionNoise")
    | _names("stable_baselines3.common.torch_layers", "NatureCNN", "FlattenExtractor", "CombinedExtractor")
    | _names("rlimpro.tasks.extractor", "SpectrogramCNN")
    | _names("torch.optim.adam", "Adam")
    | _names("torch.optim.rmsprop", "RMSprop")
    | _names("torch.nn.modules.activation", "ReLU", "Tanh", "ELU", "LeakyReLU", "SiLU", "GELU", "Sigmoid")
)


class _AllowListUnpickler(pickle.Unpickler):
    """Unpickles only globals in :data:`ALLOWED_GLOBALS`; anything else raises before it is looked up."""

    def __init__(self, data: bytes, *, where: str):
        super().__init__(io.BytesIO(data))
        self.where = where

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafeModelError(
                f"{self.where} refers to {module}.{name}, which rlimpro never writes into a model: refused "
                "without loading it (a model file can run code when loaded; load only models you trust)"
            )
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeModelError(f"{self.where} holds a persistent reference: refused")


def check_model_zip(path: Path) -> dict[str, Any]:
    """Check that ``path`` holds what rlimpro writes; return its serialized entries, safely decoded.

    Returns
    -------
    dict
        Key of ``data`` -> decoded value, for SB3's ``load(custom_objects=...)``.

    Raises
    ------
    NotFoundError
        Missing, or not a zip.
    UnsafeModelError
        Other members, oversized members, unexpected serialized keys, or a pickle that refers to
        anything outside :data:`ALLOWED_GLOBALS` (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"model file {path} does not exist")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = [i.filename for i in infos]
            extra = sorted(set(names) - REQUIRED_MEMBERS - OPTIONAL_MEMBERS)
            missing = sorted(REQUIRED_MEMBERS - set(names))
            if extra or missing or len(names) != len(set(names)):
                what = (f"unexpected members {', '.join(extra)}" if extra else
                        f"missing {', '.join(missing)}" if missing else "members listed twice")
                raise UnsafeModelError(f"{path} is not a model zip as rlimpro writes them ({what}): refused")
            big = [i.filename for i in infos if i.file_size > MAX_MEMBER_BYTES]
            if big or zf.getinfo("data").file_size > MAX_DATA_BYTES:
                raise UnsafeModelError(f"{path}: {', '.join(big) or 'data'} is too large for a model: refused")
            raw = zf.read("data")
    except zipfile.BadZipFile as exc:
        raise NotFoundError(f"{path} is not a Stable-Baselines3 model zip ({exc})") from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnsafeModelError(f"{path}: its data member is not JSON ({exc}): refused") from exc
    if not isinstance(data, dict):
        raise UnsafeModelError(f"{path}: its data member is not a JSON object: refused")
    decoded: dict[str, Any] = {}
    for key, value in data.items():
        if not (isinstance(value, dict) and ":serialized:" in value):
            continue
        if key not in SERIALIZED_KEYS:
            raise UnsafeModelError(f"{path}: data holds a serialized '{key}', which rlimpro never writes: refused")
        try:
            blob = base64.b64decode(value[":serialized:"], validate=True)
        except (ValueError, TypeError) as exc:
            raise UnsafeModelError(f"{path}: '{key}' is not base64 ({exc}): refused") from exc
        try:
            decoded[key] = _AllowListUnpickler(blob, where=f"{path} ['{key}']").load()
        except UnsafeModelError:
            raise
        except Exception as exc:  # a damaged pickle: refused as well, it cannot be what rlimpro wrote
            raise UnsafeModelError(f"{path}: '{key}' cannot be read ({type(exc).__name__}: {exc}): refused") from exc
    policy = decoded.get("policy_class")
    from stable_baselines3.common.policies import BasePolicy

    if not (isinstance(policy, type) and issubclass(policy, BasePolicy)):
        raise UnsafeModelError(f"{path}: its policy_class is not an SB3 policy: refused")
    return decoded


def load_model(path: Path, cls: Any) -> Any:
    """``cls.load(path)`` on the CPU after :func:`check_model_zip`, with nothing unpickled by SB3.

    Raises
    ------
    NotFoundError, UnsafeModelError
    """
    custom = check_model_zip(path)
    return cls.load(str(path), device="cpu", custom_objects=custom)
