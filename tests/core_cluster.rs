//! The Rust core against the local cluster that `make test` starts.
//!
//! Marked `#[ignore]` so that a plain `cargo test` (no cluster) lists them as ignored with the
//! reason. `make test` runs them (`cargo test -- --include-ignored` inside `python -m
//! kubescale.testing exec`, which sets `KUBESCALE_TEST_KUBECONFIG`).

use std::path::PathBuf;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use kubescale::core::{ConnectOptions, Error, HandlerOptions, ScaleHandler, ScaleOptions, TargetRef, TypeSpec};

fn kubeconfig() -> PathBuf {
    match std::env::var_os("KUBESCALE_TEST_KUBECONFIG") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => panic!(
            "no test cluster: these tests need KUBESCALE_TEST_KUBECONFIG.\n\
             Run them with `make test`, or start a cluster with\n  \
             python -m kubescale.testing exec -- cargo test --no-default-features"
        ),
    }
}

async fn handler() -> ScaleHandler {
    let opts = HandlerOptions {
        connect: ConnectOptions { kubeconfig: Some(kubeconfig()), ..Default::default() },
        ..Default::default()
    };
    ScaleHandler::connect(opts).await.expect("connect through the written kubeconfig (TLS verified)")
}

async fn fresh_namespace(h: &ScaleHandler, name: &str) -> String {
    let ns = format!("{name}-{:x}", std::process::id());
    let api: Api<Namespace> = Api::all(h.client().clone());
    let obj: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).unwrap();
    api.create(&PostParams::default(), &obj).await.unwrap();
    ns
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]}
            }
        }
    }))
    .unwrap()
}

#[tokio::test]
#[ignore = "needs a cluster: make test, or python -m kubescale.testing exec -- cargo test --no-default-features -- --include-ignored"]
async fn scales_a_deployment_3_to_0_to_3() {
    let h = handler().await;
    let ns = fresh_namespace(&h, "core-scale").await;
    let deployments: Api<Deployment> = Api::namespaced(h.client().clone(), &ns);
    deployments.create(&PostParams::default(), &deployment("web", 3)).await.unwrap();
    let target = TargetRef::parse("deploy/web").unwrap();

    let down = h.scale_to_zero(&target, Some(&ns)).await.unwrap();
    assert_eq!((down.previous, down.replicas, down.changed), (3, 0, true));
    assert_eq!(deployments.get("web").await.unwrap().spec.unwrap().replicas, Some(0));

    let up = h.scale_from_zero(&target, 1, Some(&ns), true).await.unwrap();
    assert_eq!((up.previous, up.replicas), (0, 3));
    let again = h.scale(&target, 3, Some(&ns), ScaleOptions::default()).await.unwrap();
    assert!(!again.changed);
    assert_eq!(h.lock_count(), 0);

    Api::<Namespace>::all(h.client().clone()).delete(&ns, &DeleteParams::default()).await.unwrap();
}

#[tokio::test]
#[ignore = "needs a cluster: make test, or python -m kubescale.testing exec -- cargo test --no-default-features -- --include-ignored"]
async fn discovery_resolves_kubectl_names_and_refuses_the_unscalable() {
    let h = handler().await;
    for (spelling, kind) in [
        ("deploy", "Deployment"),
        ("sts", "StatefulSet"),
        ("replicasets.apps", "ReplicaSet"),
        ("Deployment.v1.apps", "Deployment"),
    ] {
        let r = h.resolve(&TypeSpec::parse(spelling).unwrap()).await.unwrap();
        assert_eq!(r.kind, kind, "{spelling}");
        assert!(r.scalable, "{spelling}");
    }
    let cm = TargetRef::parse("configmap/x").unwrap();
    let err = h.scale(&cm, 1, Some("default"), ScaleOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::NotScalable { ref kind, .. } if kind == "ConfigMap"), "{err:?}");
    let unknown = TargetRef::parse("frobnicators/x").unwrap();
    let err = h.get_scale(&unknown, Some("default")).await.unwrap_err();
    assert!(matches!(err, Error::NoMatch(_)), "{err:?}");
}

#[tokio::test]
#[ignore = "needs a cluster: make test, or python -m kubescale.testing exec -- cargo test --no-default-features -- --include-ignored"]
async fn a_lapsed_fence_keeps_writes_in_this_process_through_the_real_transport() {
    use std::sync::Arc;
    use std::time::Duration;

    use kubescale::core::{Fence, with_fence};

    let h = handler().await;
    let ns = fresh_namespace(&h, "core-fence").await;
    let deployments: Api<Deployment> = Api::namespaced(h.client().clone(), &ns);
    deployments.create(&PostParams::default(), &deployment("web", 2)).await.unwrap();
    let target = TargetRef::parse("deploy/web").unwrap();

    let held = Arc::new(Fence::new("ns/lease"));
    held.renewed(tokio::time::Instant::now(), Duration::from_secs(60));
    let up = with_fence(held.clone(), h.scale(&target, 3, Some(&ns), ScaleOptions::default())).await.unwrap();
    assert_eq!(up.replicas, 3, "a held fence lets the write through");

    held.lapse();
    // The task-local scope reaches the transport through kube's buffer and our layers: the
    // write is refused in this process, the read before it is not.
    let err = with_fence(held.clone(), h.scale(&target, 5, Some(&ns), ScaleOptions::default())).await.unwrap_err();
    assert!(matches!(err, Error::LeaseLost(ref l) if l.lease == "ns/lease"), "{err:?}");
    assert_eq!(deployments.get("web").await.unwrap().spec.unwrap().replicas, Some(3));
    let read = with_fence(held, h.get_scale(&target, Some(&ns))).await.unwrap();
    assert_eq!(read.spec_replicas, 3);
    // Outside any fence the handler writes as ever.
    assert_eq!(h.scale(&target, 5, Some(&ns), ScaleOptions::default()).await.unwrap().replicas, 5);

    Api::<Namespace>::all(h.client().clone()).delete(&ns, &DeleteParams::default()).await.unwrap();
}
