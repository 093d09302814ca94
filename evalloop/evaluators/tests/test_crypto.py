from __future__ import annotations

import pytest

from evalloop.lib import crypto


def test_a_secret_round_trips_and_its_token_hides_it(settings):
    settings.EVALLOOP_ENCRYPTION_KEY = "one key of this installation"
    token = crypto.encrypt("sk-live-1234567890")
    assert "sk-live" not in token
    assert crypto.decrypt(token) == "sk-live-1234567890"


def test_the_same_secret_encrypts_differently_each_time(settings):
    settings.EVALLOOP_ENCRYPTION_KEY = "one key of this installation"
    assert crypto.encrypt("same") != crypto.encrypt("same")


def test_a_token_made_under_another_key_is_refused_with_a_clear_error(settings):
    settings.EVALLOOP_ENCRYPTION_KEY = "the old key"
    token = crypto.encrypt("sk-secret")
    settings.EVALLOOP_ENCRYPTION_KEY = "the new key"
    with pytest.raises(crypto.Undecryptable, match="cannot be decrypted"):
        crypto.decrypt(token)


@pytest.mark.parametrize("token", ["", "not a token", "gAAAAAB" + "x" * 40, "é"])
def test_garbage_is_refused_as_undecryptable(token):
    with pytest.raises(crypto.Undecryptable):
        crypto.decrypt(token)
