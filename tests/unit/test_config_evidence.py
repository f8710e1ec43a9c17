"""The `evidence` section of an environment and the top-level `prometheus_url`: what loads
(with which defaults) and what is refused, with which code, field and message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.configerror import ConfigError
from tests.unit.test_config import PASSWORD, WEBHOOK_SECRET, load, mutate
from workflows.evidence_sources import ReleaseSource, ValidationErrorsSource


def test_defaults_deploy_with_a_webhook_person_without() -> None:
    config = load(mutate(lambda d: None))
    testnet, mainnet = config.environment("testnet"), config.environment("mainnet")
    assert testnet.deploy_webhook is not None
    assert testnet.evidence.release.source is ReleaseSource.DEPLOY
    assert mainnet.deploy_webhook is None
    assert mainnet.evidence.release.source is ReleaseSource.PERSON
    assert mainnet.evidence.release.confirmers == ("operators",)
    for env in (testnet, mainnet):
        assert env.evidence.validation_errors.source is ValidationErrorsSource.PERSON
        assert env.evidence.validation_errors.confirmers == ("operators",)
    assert config.prometheus_url is None


def test_explicit_sources_load() -> None:
    def change(d: dict[str, Any]) -> None:
        d["prometheus_url"] = "http://prom.internal:9090"
        d["environments"]["testnet"]["evidence"] = {
            "release": {"source": "rpc"},
            "validation_errors": {
                "source": "prometheus",
                "query": 'increase(parthenon_validation_errors_total{job="testnet"}[10m])',
            },
        }
        d["environments"]["mainnet"]["evidence"] = {
            "release": {"source": "person", "confirmers": ["release-managers", "security"]},
            "validation_errors": {"source": "metric", "metric": "my_validation_errors_total"},
        }

    config = load(mutate(change))
    assert config.prometheus_url == "http://prom.internal:9090"
    testnet, mainnet = config.environment("testnet"), config.environment("mainnet")
    assert testnet.evidence.release.source is ReleaseSource.RPC
    assert testnet.evidence.validation_errors.source is ValidationErrorsSource.PROMETHEUS
    assert mainnet.evidence.release.confirmers == ("release-managers", "security")
    assert mainnet.evidence.validation_errors.metric == "my_validation_errors_total"
    assert mainnet.evidence.release.label == "a person's confirmation"
    assert testnet.evidence.release.label == "node RPC (getinfo.version)"


def test_deploy_and_none_sources_load_with_a_webhook() -> None:
    def change(d: dict[str, Any]) -> None:
        d["environments"]["testnet"]["evidence"] = {
            "release": {"source": "deploy"},
            "validation_errors": {"source": "deploy"},
        }
        d["environments"]["mainnet"]["evidence"] = {"validation_errors": {"source": "none"}}

    config = load(mutate(change))
    assert config.environment("testnet").evidence.validation_errors.label == (
        "deploy system log check"
    )
    assert config.environment("mainnet").evidence.validation_errors.source is (
        ValidationErrorsSource.NONE
    )
    # The release default still follows the webhook when only validation_errors is written.
    assert config.environment("mainnet").evidence.release.source is ReleaseSource.PERSON


def _evidence(env: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        d["environments"][env]["evidence"] = value

    return change


REFUSALS = [
    pytest.param(
        _evidence("testnet", {"validation_errors": {"source": "prometheus", "query": "up"}}),
        "bad_evidence",
        "environments.testnet.evidence.validation_errors",
        "source prometheus needs the top-level prometheus_url",
        id="prometheus-without-url",
    ),
    pytest.param(
        _evidence("testnet", {"validation_errors": {"source": "prometheus"}}),
        "bad_evidence",
        "environments.testnet.evidence.validation_errors",
        "source prometheus needs query",
        id="prometheus-without-query",
    ),
    pytest.param(
        _evidence("testnet", {"validation_errors": {"source": "metric"}}),
        "bad_evidence",
        "environments.testnet.evidence.validation_errors",
        "source metric needs metric",
        id="metric-without-name",
    ),
    pytest.param(
        _evidence("testnet", {"validation_errors": {"source": "metric", "metric": "bad name"}}),
        "bad_evidence",
        "environments.testnet.evidence.validation_errors.metric",
        "'bad name' is not a Prometheus metric name",
        id="metric-bad-name",
    ),
    pytest.param(
        _evidence("testnet", {"validation_errors": {"source": "person", "metric": "x_total"}}),
        "bad_evidence",
        "environments.testnet.evidence.validation_errors",
        "metric only applies to source metric",
        id="metric-on-another-source",
    ),
    pytest.param(
        _evidence("mainnet", {"release": {"source": "deploy"}}),
        "bad_evidence",
        "environments.mainnet.evidence",
        "evidence.release: source deploy needs the environment's deploy_webhook",
        id="release-deploy-without-webhook",
    ),
    pytest.param(
        _evidence("mainnet", {"validation_errors": {"source": "deploy"}}),
        "bad_evidence",
        "environments.mainnet.evidence",
        "evidence.validation_errors: source deploy needs the environment's deploy_webhook",
        id="validation-deploy-without-webhook",
    ),
    pytest.param(
        _evidence("testnet", {"release": {"source": "getinfo"}}),
        "bad_evidence",
        "environments.testnet.evidence.release.source",
        "unknown release evidence source 'getinfo': use one of rpc, deploy, person",
        id="unknown-release-source",
    ),
    pytest.param(
        _evidence("testnet", {"validation_errors": {"source": "logs"}}),
        "bad_evidence",
        "environments.testnet.evidence.validation_errors.source",
        "unknown validation_errors evidence source 'logs'",
        id="unknown-validation-source",
    ),
    pytest.param(
        _evidence("testnet", {"release": {"source": "person", "confirmers": ["nobody-here"]}}),
        "unknown_group",
        "environments.testnet.evidence.release.confirmers",
        "group nobody-here is not defined under groups",
        id="unknown-release-confirmers",
    ),
    pytest.param(
        _evidence("mainnet", {"validation_errors": {"confirmers": ["ghosts"]}}),
        "unknown_group",
        "environments.mainnet.evidence.validation_errors.confirmers",
        "group ghosts is not defined under groups",
        id="unknown-validation-confirmers",
    ),
    pytest.param(
        _evidence("testnet", {"release": {"source": "person", "confirmers": "operators"}}),
        "bad_evidence",
        "environments.testnet.evidence.release.confirmers",
        "confirmers is a list of group names",
        id="confirmers-not-a-list",
    ),
    pytest.param(
        _evidence("testnet", {"release": {"source": "rpc", "check": True}}),
        "unknown_field",
        "environments.testnet.evidence.release.check",
        "",
        id="unknown-field",
    ),
    pytest.param(
        lambda d: d.__setitem__("prometheus_url", "prom.internal:9090"),
        "bad_url",
        "prometheus_url",
        "must be an http:// or https:// URL with a host",
        id="prometheus-url-not-http",
    ),
]


@pytest.mark.parametrize(("change", "code", "field", "text"), REFUSALS)
def test_refusals(
    change: Callable[[dict[str, Any]], None], code: str, field: str, text: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(mutate(change))
    err = caught.value
    assert err.code == code, str(err)
    assert err.field == field, str(err)
    assert text in err.message
    assert PASSWORD not in str(err)
    assert WEBHOOK_SECRET not in str(err)
