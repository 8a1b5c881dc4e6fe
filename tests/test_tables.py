import json

import pandas as pd
import pytest

from rlimpro.errors import MismatchError, NotFoundError, ParameterError
from rlimpro.tables import atomic_write, check_same_analysis, read_table, write_table


def test_roundtrip_with_sidecar(tmp_path):
    df = pd.DataFrame({"a": [0.1, 1 / 3], "b": [1e-12, -5.0]})
    write_table(tmp_path / "t.csv", df, {"analysis": {"hop": 512}})
    back, meta = read_table(tmp_path / "t.csv")
    pd.testing.assert_frame_equal(back, df, rtol=1e-9, atol=0)
    assert meta["analysis"] == {"hop": 512} and "rlimpro_version" in meta


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "x.csv"
    target.write_text("old")

    def boom(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_write_bad_folder(tmp_path):
    (tmp_path / "f").write_text("file")
    with pytest.raises(ParameterError, match="cannot write to folder"):
        atomic_write(tmp_path / "f" / "x.csv", lambda p: None)


def test_missing_and_malformed(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        read_table(tmp_path / "none.csv")
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    with pytest.raises(NotFoundError, match="sidecar"):
        read_table(tmp_path / "t.csv")
    (tmp_path / "t.json").write_text("{not json")
    with pytest.raises(NotFoundError, match="not valid JSON"):
        read_table(tmp_path / "t.csv")
    (tmp_path / "t.json").write_text(json.dumps({}))
    (tmp_path / "t.csv").write_bytes(b"")
    with pytest.raises(NotFoundError, match="not a readable CSV"):
        read_table(tmp_path / "t.csv")


def test_check_same_analysis_names_both_values():
    a = {"analysis": {"hop": 512, "window": 1024}}
    b = {"analysis": {"hop": 256, "window": 1024}}
    check_same_analysis(a, dict(a), a_name="x", b_name="y")
    with pytest.raises(MismatchError, match="hop: 512 in lookup.json vs 256 in corpus"):
        check_same_analysis(a, b, a_name="lookup.json", b_name="corpus")


def test_atomic_write_gives_normal_permissions(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "x.txt", lambda p: p.write_text("x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "x.txt").stat().st_mode) == 0o644


def test_a_non_numeric_cell_names_its_line_and_column(tmp_path):
    """It was a ValueError traceback from env/synth_model.py when training."""
    import pandas as pd

    from rlimpro.errors import MismatchError
    from rlimpro.tables import read_table, write_table

    path = tmp_path / "t.csv"
    write_table(path, pd.DataFrame({"param-0": [0.0, 0.5, 1.0], "centroid": [100.0, 200.0, 300.0]}), {"rows": 3})
    text = path.read_text().replace("200", "2OO")
    path.write_text(text)
    with pytest.raises(MismatchError, match=r"t\.csv, line 3, column 'centroid': '2OO' is not a number"):
        read_table(path)
    path.write_text(text.replace("2OO", ""))
    with pytest.raises(MismatchError, match=r"line 3, column 'centroid': an empty cell is not a number"):
        read_table(path)


def test_a_truncated_table_is_refused_against_its_sidecar(tmp_path):
    import pandas as pd

    from rlimpro.errors import MismatchError
    from rlimpro.tables import read_meta, read_table, verify_table, write_table

    path = tmp_path / "t.csv"
    write_table(path, pd.DataFrame({"a": [1.0, 2.0, 3.0]}), {"rows": 3})
    assert verify_table(path, read_meta(path)) is None
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    with pytest.raises(MismatchError, match="has 2 rows but its sidecar says 3"):
        read_table(path)
    assert "truncated or changed" in verify_table(path, read_meta(path))
