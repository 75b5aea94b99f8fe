"""The unit layer: logic that needs no API server, tested in seconds.

Nothing here may start or reach a cluster: the autouse fixture below fails any test of this
folder that asks for one (``kube_cluster``, ``namespace`` or ``handler``).
"""

from __future__ import annotations

import pytest

CLUSTER_FIXTURES = {"kube_cluster", "namespace", "handler"}


@pytest.fixture(autouse=True)
def _no_cluster(request: pytest.FixtureRequest) -> None:
    asked = CLUSTER_FIXTURES.intersection(request.fixturenames)
    if asked:
        pytest.fail(
            f"a unit test asked for a cluster fixture ({', '.join(sorted(asked))}): move it out of tests/unit"
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/unit/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.unit)
