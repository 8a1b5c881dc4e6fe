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
