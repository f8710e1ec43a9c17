"""The run API's tokens in the config: refused when they could not be safe or usable, never
echoing a secret; structure-only loading (`workflows --config`) reads none."""

from __future__ import annotations

import pytest

from bot.config import parse_config
from bot.configerror import ConfigError

BASE = """
environments:
  testnet:
    network: testnet
    rpc_credentials: {user: parthenon, password_env: RPC_PW}
    nodes: [{name: t1, rpc_url: "http://127.0.0.1:9"}]
groups: {operators: [U0OPERATOR]}
"""
GOOD = "g" * 32


def load(api: str, env: dict[str, str] | None = None, *, secrets: bool = True) -> object:
    return parse_config(BASE + api, source="api.yaml",
                        env={"TOKEN_A": GOOD, "TOKEN_B": "h" * 32, "RPC_PW": "pw", **(env or {})},
                        secrets=secrets)


def test_a_token_acts_as_api_name_for_the_workflows_it_lists() -> None:
    """A configured token may start what it lists and nothing else; people are not tokens."""
    config = load("api: {tokens: [{name: ci, secret_env: TOKEN_A, start: [promote]}]}")
    api = config.api  # type: ignore[attr-defined]
    assert api.may_start("api:ci", "promote")
    assert not api.may_start("api:ci", "rollback")
    assert not api.may_start("api:other", "promote")
    assert not api.may_start("ci", "promote")


@pytest.mark.parametrize(
    ("api", "env", "needle"),
    [
        ("api: {tokens: [{name: ci, secret_env: TOKEN_A, start: [promote]},"
         " {name: ci, secret_env: TOKEN_B, start: [promote]}]}", {}, "same name"),
        ("api: {tokens: [{name: ci, secret_env: TOKEN_A, start: [promote]},"
         " {name: cd, secret_env: TOKEN_A, start: [promote]}]}", {}, "same secret"),
        ("api: {tokens: [{name: ci, secret_env: SHORT, start: [promote]}]}",
         {"SHORT": "short-secret"}, "at least 24"),
        ("api: {tokens: [{name: CI!, secret_env: TOKEN_A, start: [promote]}]}", {}, "lowercase"),
        ("api: {tokens: [{name: ci, secret_env: TOKEN_A, start: []}]}", {}, "start"),
        ("api: {tokens: [{name: ci, secret_env: MISSING, start: [promote]}]}", {}, "MISSING"),
        ("api: {tokens: [{name: ci, secret: inline-secret-in-the-file-xxxxx, start: [x]}]}",
         {}, "may not be written in the config file"),
    ],
)
def test_unsafe_or_unusable_tokens_are_refused(api: str, env: dict[str, str],
                                               needle: str) -> None:
    """Each problem is refused at load with a message that names it and no secret."""
    with pytest.raises(ConfigError) as caught:
        load(api, env)
    assert needle in str(caught.value)
    assert GOOD not in str(caught.value)
    assert "short-secret" not in str(caught.value)


def test_structure_only_loading_reads_no_token() -> None:
    """`workflows --config` checks the structure without the secrets being set."""
    config = load("api: {tokens: [{name: ci, secret_env: UNSET_VAR, start: [promote]}]}",
                  secrets=False)
    assert config.api.tokens[0].name == "ci"  # type: ignore[attr-defined]
