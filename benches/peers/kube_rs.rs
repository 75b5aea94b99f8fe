//! The raw kube-rs peer of `benches/run.py`: what a Rust user writes with kube-rs alone, on
//! kube's default client (HTTP/1.1, rustls). Per operation: GET the Deployment's scale, and if
//! the count differs, PUT it back with the new count and the resourceVersion read (a 409
//! Conflict reads again). No Events. Same arguments and JSON output as `benches/clients.py`
//! (latencies in milliseconds).
//!
//! Built by `benches/run.py`: `cargo build --release --no-default-features --example kube_rs_peer`.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures::{StreamExt, stream};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

fn arg(args: &[String], name: &str) -> String {
    let i = args.iter().position(|a| a == name).unwrap_or_else(|| panic!("{name} is required"));
    args[i + 1].clone()
}

/// A `/proc/self/status` field in kB (`VmRSS`, `VmHWM`).
fn status_kb(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// User and system CPU seconds of the process (`/proc/self/stat`, clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = &s[s.rfind(')').map_or(0, |i| i + 2)..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

async fn scale(api: &Api<Deployment>, name: &str, value: i32) {
    loop {
        let mut s = api.get_scale(name).await.expect("GET scale");
        if s.spec.as_ref().and_then(|sp| sp.replicas) == Some(value) {
            return;
        }
        s.spec.get_or_insert_with(Default::default).replicas = Some(value);
        match api.replace_scale(name, &PostParams::default(), &s).await {
            Ok(_) => return,
            Err(kube::Error::Api(e)) if e.code == 409 => continue,
            Err(e) => panic!("PUT scale {name}: {e}"),
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let started = Instant::now();
    let kubeconfig = Kubeconfig::read_from(arg(&args, "--kubeconfig")).expect("a kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.expect("a config");
    let client = Client::try_from(config).expect("a client");
    let api: Api<Deployment> = Api::namespaced(client, &arg(&args, "--namespace"));
    let targets: usize = arg(&args, "--targets").parse().expect("--targets");
    let concurrency: usize = arg(&args, "--concurrency").parse().expect("--concurrency");
    let values: Vec<i32> = arg(&args, "--values").split(',').map(|v| v.parse().expect("a value")).collect();
    api.get_scale("b-0").await.expect("warm-up read");
    let setup = started.elapsed().as_secs_f64();
    let warm_end = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let mut lat: Vec<f64> = Vec::new();
    let mut rss_rounds: Vec<u64> = Vec::new();
    for value in values {
        let api = &api;
        let round: Vec<f64> = stream::iter(0..targets)
            .map(|i| async move {
                let t = Instant::now();
                scale(api, &format!("b-{i}"), value).await;
                t.elapsed().as_secs_f64() * 1000.0
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        lat.extend(round);
        rss_rounds.push(status_kb("VmRSS:"));
    }
    let out = serde_json::json!({
        "warm_end": warm_end,
        "cpu": cpu_seconds() - cpu0,
        "wall": t0.elapsed().as_secs_f64(),
        "setup": setup,
        "ops": lat.len(),
        "lat": lat,
        "rss_peak_kb": status_kb("VmHWM:"),
        "rss_rounds": rss_rounds,
    });
    println!("{out}");
}
