//! Property tests (fuzzing) of everything that parses outside input: targets, types, cron and
//! durations, Prometheus answers, ElastiService objects. None may panic; all give typed errors.
//! `make test` runs the default number of cases; `make fuzz` runs many more
//! (`PROPTEST_CASES`).

use proptest::prelude::*;

use kubescale::core::prometheus::{PrometheusConfig, parse_query_response};
use kubescale::core::{ElastiService, EnabledPeriod, TargetRef, TypeSpec, parse_duration};

/// Arbitrary JSON values, a few levels deep.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number)),
        ".{0,12}".prop_map(serde_json::Value::from),
        prop_oneof![Just("NaN"), Just("+Inf"), Just("-Inf"), Just("1"), Just("0.5"), Just("vector"), Just("success")]
            .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("status".to_string()),
                    Just("data".to_string()),
                    Just("resultType".to_string()),
                    Just("result".to_string()),
                    Just("value".to_string()),
                    Just("spec".to_string()),
                    Just("metadata".to_string()),
                    Just("triggers".to_string()),
                    "[a-zA-Z]{1,8}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn target_parsing_never_panics(s in ".{0,80}") {
        if let Ok(t) = TargetRef::parse(&s) {
            // Whatever parses prints back to something that parses to the same target.
            prop_assert_eq!(TargetRef::parse(&t.to_string()).ok(), Some(t));
        }
    }

    #[test]
    fn kubectl_shaped_targets(ty in "[a-zA-Z][a-zA-Z0-9]{0,10}(\\.v[0-9](beta[0-9])?)?(\\.[a-z]{1,6}){0,3}", name in "[a-z0-9.-]{0,30}") {
        let _ = TargetRef::parse(&format!("{ty}/{name}"));
        let _ = TypeSpec::parse(&ty);
        let _ = TargetRef::from_parts(&ty, &name, &name);
    }

    #[test]
    fn cron_and_durations_never_panic(schedule in "[0-9*/,\\- a-zA-Z]{0,30}", duration in "[-0-9.a-z ]{0,12}") {
        let _ = EnabledPeriod::parse(&schedule, &duration);
        let _ = parse_duration("d", &duration);
    }

    #[test]
    fn valid_periods_answer_for_any_time(minute in 0u32..60, hour in 0u32..24, secs in 0i64..4_000_000_000, hours in 1u64..200) {
        let p = EnabledPeriod::parse(&format!("{minute} {hour} * * *"), &format!("{hours}h")).unwrap();
        let _ = p.is_enabled(jiff::Timestamp::from_second(secs).unwrap());
    }

    #[test]
    fn prometheus_answers_never_panic(v in json(), raw in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse_query_response(&serde_json::to_vec(&v).unwrap());
        let _ = parse_query_response(&raw);
        if let Ok(x) = parse_query_response(&serde_json::to_vec(&v).unwrap()) {
            prop_assert!(x.is_finite());
        }
    }

    #[test]
    fn prometheus_metadata_never_panics(v in json()) {
        let _ = PrometheusConfig::from_metadata(&v, std::time::Duration::from_secs(60));
    }

    #[test]
    fn elastiservice_decoding_never_panics(spec in json(), kind in "[a-zA-Z]{0,12}") {
        let obj = serde_json::json!({
            "apiVersion": "elasti.truefoundry.com/v1alpha1",
            "kind": "ElastiService",
            "metadata": {"name": "x", "namespace": "ns"},
            "spec": spec,
        });
        if let Ok(es) = serde_json::from_value::<ElastiService>(obj) {
            let _ = es.spec.scale_target_ref.normalized_kind();
        }
        let _ = kind;
    }
}
