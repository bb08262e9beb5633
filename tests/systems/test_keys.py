import os
import stat

import pytest

from photonic_dat.exceptions import ConfigError
from photonic_dat.systems.keys import KEY_FILE_ENV, default_key_path, load_key


def test_per_user_key_is_created_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    key = load_key()
    path = default_key_path()
    assert path == tmp_path / "photonic-dat" / "key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 32 and load_key() == key  # the same key for server and client


def test_key_files_open_to_others_or_missing_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "key"
    path.write_text("a" * 40)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_key(path)
    os.chmod(path, 0o600)
    assert load_key(path) == b"a" * 40
    monkeypatch.setenv(KEY_FILE_ENV, str(path))
    assert load_key() == b"a" * 40
    with pytest.raises(ConfigError, match="not found"):
        load_key(tmp_path / "missing")
    short = tmp_path / "short"
    short.write_text("abc")
    os.chmod(short, 0o600)
    with pytest.raises(ConfigError, match="fewer than"):
        load_key(short)
