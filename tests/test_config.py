from pathlib import Path

import pytest

from rlimpro.config import StrictModel, load_model, load_yaml
from rlimpro.errors import ConfigError, NotFoundError


class Demo(StrictModel):
    name: str
    steps: int = 10


def test_load_ok(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("name: x\nsteps: 3\n")
    assert load_model(Demo, p) == Demo(name="x", steps=3)


def test_all_errors_reported_with_file_and_keys(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("steps: many\ncolour: red\n")
    with pytest.raises(ConfigError) as exc:
        load_model(Demo, p)
    msg = str(exc.value)
    assert str(p) in msg
    assert "[colour] unknown key" in msg and "[steps]" in msg and "[name] Field required" in msg


@pytest.mark.parametrize("text,needle", [("a: [1, 2\n", "not valid YAML"), ("- 1\n- 2\n", "expected a mapping")])
def test_malformed_yaml(tmp_path, text, needle):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_yaml(p)


def test_missing_file(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        load_yaml(tmp_path / "nope.yaml")


def test_a_check_across_keys_is_one_short_line(tmp_path):
    """Issue 17: DQN with continuous actions printed the whole config; now one line under 200 characters."""
    import yaml

    from rlimpro.errors import ConfigError
    from rlimpro.train_config import load_config

    path = tmp_path / "c.yaml"
    cfg = yaml.safe_load((Path(__file__).resolve().parent.parent / "configs" / "fm.yaml").read_text())
    cfg.update(algorithm="DQN", action_type="continuous")
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "\n" not in message and len(message) - len(str(path)) < 200, message
    assert "DQN does not support action_type 'continuous'" in message and "'synth'" not in message
    # two bad keys: one line each, each naming the file
    cfg.update(algorithm="PPO", action_type="continuous", step_size=5, timesteps=0)
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    lines = str(err.value).splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{path}: [") for line in lines)


def test_a_config_that_is_not_utf8_is_one_line(tmp_path):
    """It was a UnicodeDecodeError traceback from config.py."""
    from typer.testing import CliRunner

    from rlimpro.cli import app

    for name, data, says in (
        ("utf16.yaml", "synth: fm\n".encode("utf-16"), "the file is UTF-16 text; save it as UTF-8"),
        ("latin1.yaml", "synth: fm\n# caf\xe9\n".encode("latin-1"), "not UTF-8 text (byte 0xe9 at line 2)"),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        res = CliRunner().invoke(app, ["--root", str(tmp_path), "train", str(path)])
        assert res.exit_code == 1, res.output
        assert f"{path}: {says}" in " ".join(res.output.split()) and "Traceback" not in res.output, res.output
    bom = tmp_path / "bom.yaml"
    bom.write_bytes("\ufeffsynth: fm\n".encode())
    from rlimpro.config import load_yaml

    assert load_yaml(bom) == {"synth": "fm"}  # UTF-8 with a byte-order mark is fine
