"""Label files: the AU table, the official pickle (safely), ids files and attributes.txt."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from ganimation_lib.aus import AU_NAMES
from ganimation_lib.data.errors import DataFormatError, UnsafePickleError
from ganimation_lib.data.labels import (
    AUTable,
    AUTableWriter,
    read_attributes_txt,
    read_au_table,
    read_ids,
    read_labels,
    read_official_pickle,
    write_attributes_txt,
    write_au_table,
    write_ids,
)

HEADER = "file," + ",".join(AU_NAMES)


def _row(name: str, value: str = "1.0", count: int = 17) -> str:
    return ",".join([name, *[value] * count])


def test_au_table_round_trip_is_atomic_and_exact(tmp_path: Path) -> None:
    rows = {"a.jpg": np.linspace(0, 5, 17), "b.png": np.zeros(17)}
    path = write_au_table(tmp_path / "aus.csv", rows)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left behind
    table = read_au_table(path)
    assert table.files == ("a.jpg", "b.png") and table.au_names == AU_NAMES
    np.testing.assert_allclose(table.values[0], rows["a.jpg"], atol=1e-4)
    np.testing.assert_allclose(table.normalised().numpy()[0], rows["a.jpg"] / 5, atol=1e-4)


def test_failed_write_leaves_the_old_table(tmp_path: Path) -> None:
    path = write_au_table(tmp_path / "aus.csv", {"a.jpg": [1.0] * 17})
    with pytest.raises(ValueError, match="3 AU values"), AUTableWriter(path) as writer:
        writer.write("b.jpg", [1.0] * 17)
        writer.write("c.jpg", [1.0] * 3)
    assert read_au_table(path).files == ("a.jpg",)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aus.csv"]


def test_au_table_columns_by_name_either_separator(tmp_path: Path) -> None:
    reordered = ["AU45_r", "confidence", *reversed(AU_NAMES[:-1]), "AU12_c", "name"]
    path = tmp_path / "t.csv"
    values = [str(i / 10) for i in range(17)]
    path.write_text(", ".join(reordered) + "\n" + ", ".join(["1.6", "0.9", *reversed(values[:-1]), "1", "x.jpg"]))
    table = read_au_table(path, au_names=AU_NAMES)
    assert table.files == ("x.jpg",)
    np.testing.assert_allclose(table.values[0], [float(v) for v in values[:-1]] + [1.6])


def test_bad_rows_are_skipped_with_line_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    lines = [HEADER, _row("ok.jpg"), _row("nan.jpg", "nan"), _row("text.jpg", "high"), _row("short.jpg", count=16),
             _row("big.jpg", "1e300"), _row("neg.jpg", "-0.5"), _row("ok.jpg"), _row("", "1")]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    table = read_au_table(path)
    assert table.files == ("ok.jpg",)
    reasons = {s.file: s.reason for s in table.skipped}
    assert [s.line for s in table.skipped] == [3, 4, 5, 6, 7, 8, 9]
    assert "NaN" in reasons["nan.jpg"] and "'high'" in reasons["text.jpg"] and "17 fields" in reasons["short.jpg"]
    assert "outside" in reasons["big.jpg"] and "outside" in reasons["neg.jpg"]
    assert "duplicate" in reasons["ok.jpg"] and "empty file name" in reasons[""]
    with pytest.raises(DataFormatError, match="line 3"):
        read_au_table(path, strict=True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"AU01,AU02\n1,2\n", "no file column"),
        (b"file,score\na.jpg,1\n", "no AU columns"),
        (b"file,AU01,AU01_r\na.jpg,1,1\n", "two columns for AU01"),
        (b"file,AU01\n\xff\xfe\xfa\n", "UTF-8"),
        (b"file,AU01\na.jpg,\x001\n", "NUL"),
    ],
)
def test_malformed_au_tables_raise_format_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match=message):
        read_au_table(path)


def test_requested_aus_must_exist(tmp_path: Path) -> None:
    path = write_au_table(tmp_path / "t.csv", {"a.jpg": [1.0, 2.0]}, au_names=("AU06", "AU12"))
    assert read_au_table(path, au_names=("AU12",)).values.tolist() == [[2.0]]
    with pytest.raises(DataFormatError, match="AU45"):
        read_au_table(path, au_names=("AU12", "AU45"))


def test_official_pickle_fixture(fixtures_dir: Path) -> None:
    table = read_official_pickle(fixtures_dir / "official_sample" / "aus_openface.pkl")
    assert table.files == ("N_0000000356_00190", "N_0000000437_00540", "N_0000001507_00202", "N_0000001939_00054")
    assert table.values.shape == (4, 17) and not table.skipped
    assert table.values.min() >= 0 and table.values.max() <= 5
    np.testing.assert_allclose(table.values[0, :4], [2.86, 2.27, 1.45, 1.1])
    assert read_labels(fixtures_dir / "official_sample" / "aus_openface.pkl").files == table.files


def test_official_ids_fixture(fixtures_dir: Path) -> None:
    train = read_ids(fixtures_dir / "official_sample" / "train_ids.csv")
    test = read_ids(fixtures_dir / "official_sample" / "test_ids.csv")
    assert len(train) == 2 and len(test) == 2 and not set(train) & set(test)
    assert all(name.endswith(".jpg") for name in train + test)
    images = {p.name for p in (fixtures_dir / "official_sample" / "imgs").iterdir()}
    assert set(train) | set(test) == images


class _Payload:
    """Pickles as 'call <target>(*args)', the classic malicious pickle."""

    def __init__(self, target: object, args: tuple[object, ...]) -> None:
        self.target, self.args = target, args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self.target, self.args


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_malicious_pickle_is_refused_without_running(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    for payload in (
        _Payload(open, (str(marker), "w")),
        _Payload(os.system, (f"touch {marker}",)),
        {"a": _Payload(os.mkdir, (str(marker),))},
    ):
        path = tmp_path / "aus_openface.pkl"
        path.write_bytes(pickle.dumps(payload, protocol=protocol))
        with pytest.raises(UnsafePickleError, match="refused to load") as caught:
            read_official_pickle(path)
        assert not marker.exists(), "the payload ran"
        assert caught.value.path == path and isinstance(caught.value, ValueError)


def test_pickles_of_the_wrong_shape_are_format_errors(tmp_path: Path) -> None:
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(DataFormatError, match="expected a dict"):
        read_official_pickle(path)
    path.write_bytes(b"\x80\x02}q\x00(U\x01a")  # truncated
    with pytest.raises(DataFormatError, match="not a readable pickle"):
        read_official_pickle(path)
    good = np.ones(17)
    for protocol in (2, pickle.HIGHEST_PROTOCOL):  # Python 3's protocol 2 needs _codecs.encode for bytes
        path.write_bytes(pickle.dumps({"a": good, "b": np.ones(12), "c": good * np.nan, "d": "t"}, protocol=protocol))
        table = read_official_pickle(path)
        assert table.files == ("a",) and [s.file for s in table.skipped] == ["b", "c", "d"]


def test_attributes_txt_fixture(fixtures_dir: Path) -> None:
    folder = fixtures_dir / "attributes_txt"
    table = read_attributes_txt(folder / "attributes.txt")
    assert len(table) == 41 and not table.skipped
    assert table.files[:3] == ("1.jpg", "3.jpg", "5.jpg")  # file order is kept: it is a driving sequence
    first = (folder / "attributes.txt").read_text().splitlines()[0].split()
    np.testing.assert_allclose(table.values[0], [float(v) for v in first[1:]])
    assert {p.name for p in (folder / "imgs").iterdir()} == set(table.files)


def test_attributes_txt_round_trip_and_bad_lines(tmp_path: Path) -> None:
    table = AUTable(("a.jpg", "b.jpg"), np.array([[1.25] * 17, [0.5] * 17]))
    path = write_attributes_txt(tmp_path / "attributes.txt", table)
    back = read_attributes_txt(path)
    assert back.files == table.files and np.allclose(back.values, [[1.25] * 17, [0.5] * 17], atol=0.01)
    path.write_text("a.jpg 1 2\n# comment\n\nb.jpg " + " ".join(["1"] * 17) + "\n")
    back = read_attributes_txt(path)
    assert back.files == ("b.jpg",) and back.skipped[0].reason == "2 values, expected 17"


def test_ids_round_trip_and_label_dispatch(tmp_path: Path) -> None:
    path = write_ids(tmp_path / "train_ids.csv", ["a.jpg", "b.jpg"])
    path.write_text(path.read_text() + "\n\n")
    assert read_ids(path) == ("a.jpg", "b.jpg")
    with pytest.raises(ValueError, match="single-line"):
        write_ids(tmp_path / "x.csv", ["a\nb"])
    with pytest.raises(ValueError, match="don't know how to read"):
        read_labels(tmp_path / "labels.json")


def test_au_table_select_and_normalise_checks() -> None:
    table = AUTable(("a",), np.array([[5.0, 2.5]]), ("AU06", "AU12"))
    assert table.select(["AU12", "AU06"]).values.tolist() == [[2.5, 5.0]]
    with pytest.raises(ValueError, match="AU45"):
        table.select(["AU45"])
    with pytest.raises(ValueError, match="shape"):
        AUTable(("a", "b"), np.zeros((1, 17)))
    assert table.normalised(scale=2.5).tolist() == [[2.0, 1.0]]


def test_written_label_files_get_ordinary_permissions(tmp_path: Path) -> None:
    # tempfile.mkstemp makes 0600 files; moved into place they would be unreadable to anyone else.
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    expected = plain.stat().st_mode & 0o777  # 0666 less this process's umask
    table = write_au_table(tmp_path / "aus.csv", {"a.jpg": [1.0] * 17})
    ids = write_ids(tmp_path / "train_ids.csv", ["a.jpg"])
    assert table.stat().st_mode & 0o777 == expected and ids.stat().st_mode & 0o777 == expected


def test_read_labels_picks_an_au_subset_from_the_official_layouts(fixtures_dir: Path, tmp_path: Path) -> None:
    # The pickle and attributes.txt hold 17 AUs per row; asking for two read every row as "17 values,
    # expected 2" and skipped it, so AUDataset(au_names=...) and 2-AU drives found no usable item.
    pickle_path = fixtures_dir / "official_sample" / "aus_openface.pkl"
    full = read_labels(pickle_path)
    picked = read_labels(pickle_path, au_names=("AU12", "AU01"))
    assert picked.au_names == ("AU12", "AU01") and picked.files == full.files and not picked.skipped
    np.testing.assert_array_equal(picked.values, full.values[:, [8, 0]])
    attributes = fixtures_dir / "attributes_txt" / "attributes.txt"
    assert read_labels(attributes, au_names=("AU45",)).values.shape == (41, 1)
    custom = tmp_path / "attributes.txt"  # a file laid out as the requested AUs themselves still reads
    custom.write_text("a.jpg 1.0 2.0\nb.jpg 3.0 4.0\n")
    assert read_labels(custom, au_names=("AU06", "AU12")).values.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(DataFormatError, match="line 2"):
        path = tmp_path / "bad.txt"
        path.write_text("a.jpg " + " ".join(["1"] * 17) + "\nb.jpg " + " ".join(["9"] * 17) + "\n")
        read_labels(path, au_names=("AU06",), strict=True)


@pytest.mark.parametrize("text", ["0_1", "1_0e-1", "\u0661", "\uff11"])
def test_numbers_python_reads_but_no_csv_writer_writes_are_refused(tmp_path: Path, text: str) -> None:
    # float("0_1") == 1.0 and float("\u0661") == 1.0 (an Arabic-Indic one): damaged fields, not numbers.
    table_path = tmp_path / "t.csv"
    table_path.write_text(f'file,AU01,AU02\nbad.jpg,"{text}",1\ngood.jpg,0.5,1e-1\n', encoding="utf-8")
    table = read_au_table(table_path)
    assert table.files == ("good.jpg",) and table.values.tolist() == [[0.5, 0.1]]
    assert [(s.line, s.file) for s in table.skipped] == [(2, "bad.jpg")] and "AU01" in table.skipped[0].reason
    attributes = tmp_path / "attributes.txt"
    attributes.write_text(f"bad.jpg {text}{' 1' * 16}\ngood.jpg{' 1' * 17}\n", encoding="utf-8")
    assert read_attributes_txt(attributes).files == ("good.jpg",)
