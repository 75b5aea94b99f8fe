"""What the test modules share, by concept: objects to scale (`workloads`), Events (`events`),
KEDA objects (`keda`), ElastiServices and loop processes (`elasti`), service accounts
(`accounts`), kubeconfigs for a server that is not a cluster (`kubeconfig`), a local Prometheus
(`prometheus`), kubescale's own metrics (`metrics`). Worker scripts started as processes by the
tests live here too (`loop_worker.py`, `fenced_worker.py`)."""

from pathlib import Path

from helpers.accounts import (
    namespace_admin_kubeconfig,
    scaler_role_kubeconfig,
    service_account_kubeconfig,
    service_account_token,
)
from helpers.elasti import (
    ES_PATH,
    STATE,
    AsyncFlagScaler,
    FlagScaler,
    Idle,
    by_name,
    create_es,
    elasti_service,
    flagged_service,
    idle_services,
    leader_election_setup,
    status,
)
from helpers.events import events_for
from helpers.keda import annotations_of, create_scaled_object, install_keda_crd
from helpers.kubeconfig import write_kubeconfig
from helpers.workloads import (
    DEPLOY,
    TEST_GROUP,
    assert_serialised,
    competing_writer,
    crd_manifest,
    create_widget,
    create_workload,
    install_crd,
    spec_replicas,
    workload,
)

# The repository's root.
ROOT = Path(__file__).resolve().parents[2]

__all__ = [
    "DEPLOY",
    "ES_PATH",
    "ROOT",
    "STATE",
    "TEST_GROUP",
    "AsyncFlagScaler",
    "FlagScaler",
    "Idle",
    "annotations_of",
    "assert_serialised",
    "by_name",
    "competing_writer",
    "crd_manifest",
    "create_es",
    "create_scaled_object",
    "create_widget",
    "create_workload",
    "elasti_service",
    "events_for",
    "flagged_service",
    "idle_services",
    "install_crd",
    "install_keda_crd",
    "leader_election_setup",
    "namespace_admin_kubeconfig",
    "scaler_role_kubeconfig",
    "service_account_kubeconfig",
    "service_account_token",
    "spec_replicas",
    "status",
    "workload",
    "write_kubeconfig",
]
