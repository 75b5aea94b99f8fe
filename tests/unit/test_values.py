"""Durations and the CRD as Python sees them, without a cluster."""

from __future__ import annotations

import json

import pytest

import kubescale
from kubescale._native import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("1m30s", 90.0), ("1.5h", 5400.0), ("250ms", 0.25), ("2h45m", 9900.0)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "10", "-5s", "1x", "0s"])
def test_a_bad_duration_is_an_invalid_value_error_naming_it(text: str) -> None:
    with pytest.raises(kubescale.InvalidValueError) as e:
        parse_duration(text)
    assert isinstance(e.value, ValueError)
    assert repr(text) in str(e.value) or text in str(e.value)


def test_the_crd_is_the_one_kubeelasti_objects_use() -> None:
    crd = json.loads(kubescale.elastiservice_crd())
    assert crd["metadata"]["name"] == "elastiservices.elasti.truefoundry.com"
    version = crd["spec"]["versions"][0]
    assert version["name"] == "v1alpha1" and version["subresources"] == {"status": {}}
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["cooldownPeriod"]["maximum"] == 604800
    assert set(spec["required"]) >= {"scaleTargetRef", "service"}
