"""Configuration: a database URL's password never reaches output."""

from __future__ import annotations

import pytest

from ledger.domain.errors import InvalidInput
from ledger.store.config import Config, persistence_env, redacted


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://custody:s3cret@db:5432/custody", "postgresql://custody:***@db:5432/custody"),
        ("postgresql://custody@db/custody?schema=a", "postgresql://custody@db/custody?schema=a"),
        ("sqlite:///custody.db", "sqlite:///custody.db"),
    ],
)
def test_a_password_in_the_url_is_never_printed(url: str, shown: str) -> None:
    assert redacted(url) == shown


def test_a_refused_url_is_quoted_without_its_password() -> None:
    with pytest.raises(InvalidInput, match="CUSTODY_DB .* must look like postgresql://") as refused:
        persistence_env("postgresql://custody:s3cret@/nodb", create_tables=False)
    assert "s3cret" not in str(refused.value) and "***" in str(refused.value)


def test_tiles_are_public_unless_custody_public_tiles_is_off() -> None:
    assert Config.from_env({}).public_tiles is True
    assert Config.from_env({"CUSTODY_PUBLIC_TILES": "on"}).public_tiles is True
    assert Config.from_env({"CUSTODY_PUBLIC_TILES": " OFF "}).public_tiles is False
    with pytest.raises(InvalidInput, match="CUSTODY_PUBLIC_TILES 'no' must be on or off"):
        Config.from_env({"CUSTODY_PUBLIC_TILES": "no"})
