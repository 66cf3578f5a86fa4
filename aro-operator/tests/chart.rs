//! The chart rendered by real Helm (committed by `scripts/chart-check`, which fails when Helm's
//! output changes) and `aro_operator::manifests::render` are the same objects for the same values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aro_operator::manifests::{OperatorDeployValues, crds, render};
use pretty_assertions::assert_eq;
use serde::Deserialize;
use serde_json::Value;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/chart")
}

fn key(obj: &Value) -> String {
    format!(
        "{}/{}/{}/{}",
        obj["apiVersion"].as_str().unwrap_or_default(),
        obj["kind"].as_str().unwrap_or_default(),
        obj["metadata"]["namespace"].as_str().unwrap_or_default(),
        obj["metadata"]["name"].as_str().unwrap_or_default()
    )
}

fn by_key(objects: impl IntoIterator<Item = Value>) -> BTreeMap<String, Value> {
    let mut map = BTreeMap::new();
    for obj in objects {
        let k = key(&obj);
        assert!(map.insert(k.clone(), obj).is_none(), "{k} appears twice");
    }
    map
}

fn helm_objects(case: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(cases_dir().join(format!("{case}.rendered.yaml")))
        .expect("run scripts/chart-check --update to render the chart");
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn check_case(case: &str) {
    let values: Value = serde_json::from_str(
        &std::fs::read_to_string(cases_dir().join(format!("{case}.values.json"))).unwrap(),
    )
    .unwrap();
    let values = OperatorDeployValues::with_overrides(&values).unwrap();
    let ours = by_key(render(&values));
    let helm = by_key(helm_objects(case));
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        helm.keys().collect::<Vec<_>>(),
        "{case}: object sets differ"
    );
    for (k, helm_obj) in &helm {
        assert_eq!(&ours[k], helm_obj, "{case}: {k} differs");
    }
}

#[test]
fn default_values_render_the_same_objects_as_helm() {
    check_case("default");
}

#[test]
fn overridden_values_render_the_same_objects_as_helm() {
    check_case("override");
    let objects = helm_objects("override");
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert!(
        objects
            .iter()
            .all(|o| o["metadata"]["name"] != "aro-operator-worker")
    );
}

#[test]
fn chart_crds_are_the_generated_operator_crds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/aro-operator/crds");
    let mut files: Vec<Value> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| serde_yaml::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect();
    files.sort_by_key(key);
    let mut ours: Vec<Value> = crds()
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    ours.sort_by_key(key);
    assert_eq!(ours, files);
}
