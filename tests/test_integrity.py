import json
import pickle

import pytest

from photonic_dat.exceptions import CorruptFileError, RuntimeFailure
from photonic_dat.integrity import MANIFEST, DigestBook


def test_recorded_files_verify_and_any_change_is_reported_naming_the_file(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.bin").write_bytes(b"\x00\x01\x02")
    book = DigestBook(tmp_path)
    book.record("a.txt")
    book.record_tree("sub")
    assert set(book.entries()) == {"a.txt", "sub/b.bin"}
    book.verify_all()
    assert book.read_text("a.txt") == "hello"

    (tmp_path / "sub" / "b.bin").write_bytes(b"\x00\x01")  # truncated
    with pytest.raises(CorruptFileError, match="b.bin") as info:
        book.verify("sub/b.bin")
    assert isinstance(info.value, RuntimeFailure)
    assert "\n" not in str(info.value)
    (tmp_path / "a.txt").write_text("hellO")  # same size, one byte changed
    with pytest.raises(CorruptFileError, match="a.txt"):
        book.read_text("a.txt")


def test_unlisted_files_are_read_unless_a_digest_is_required(tmp_path):
    (tmp_path / "old.json").write_text("{}")
    book = DigestBook(tmp_path)
    assert book.read_json("old.json") == {}
    with pytest.raises(CorruptFileError, match="no digest"):
        book.verify("old.json", required=True)
    (tmp_path / "bad.json").write_text('{"a": ')
    with pytest.raises(CorruptFileError, match="bad.json.*not valid JSON"):
        book.read_json("bad.json")
    with pytest.raises(FileNotFoundError):
        book.verify("missing.txt")


def test_a_damaged_digest_list_is_itself_reported(tmp_path):
    (tmp_path / MANIFEST).write_text('{"files": ')
    with pytest.raises(CorruptFileError, match=MANIFEST):
        DigestBook(tmp_path).entries()
    (tmp_path / MANIFEST).write_text(json.dumps({"files": ["x"]}))
    with pytest.raises(CorruptFileError, match=MANIFEST):
        DigestBook(tmp_path).entries()


def test_the_error_survives_a_trip_to_a_worker_process_and_back():
    err = pickle.loads(pickle.dumps(CorruptFileError("/x/model.safetensors", "truncated")))
    assert str(err) == "/x/model.safetensors is damaged: truncated"
