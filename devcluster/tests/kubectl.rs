//! The machine's kubectl against devcluster, unmodified: discovery, the `create` generators (which
//! send protobuf), apply (client- and server-side), get in every output form, watch, describe,
//! label, annotate, patch, explain, wait for a condition and for deletion, delete.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use devcluster::{Devcluster, DevclusterConfig};
use serde_json::Value;

struct Kubectl {
    kubeconfig: std::path::PathBuf,
}

impl Kubectl {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("kubectl");
        command
            .env("KUBECONFIG", &self.kubeconfig)
            .arg("--request-timeout=20s")
            .args(args);
        command
    }

    /// Run kubectl, optionally with `stdin`; panic with its output when it fails.
    fn run_with(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs (scripts/prereqs checks it is installed)");
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        } else {
            drop(child.stdin.take());
        }
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    fn run(&self, args: &[&str]) -> String {
        self.run_with(args, None)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.run(&all)).expect("kubectl printed JSON")
    }
}

async fn start(dir: &Path) -> (Devcluster, Kubectl) {
    let dc = Devcluster::start(DevclusterConfig::durable(dir))
        .await
        .expect("devcluster starts");
    let kubeconfig = dc
        .kubeconfig_path
        .clone()
        .expect("a durable devcluster writes a kubeconfig");
    (dc, Kubectl { kubeconfig })
}

const MANIFEST: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
  labels: {app: shop}
data:
  color: blue
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports: [{containerPort: 80}]
"#;

// kubectl is a blocking process: the server runs on the multi-threaded runtime's workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_discovery_create_apply_get_and_explain() {
    let dir = tempfile::tempdir().unwrap();
    let (dc, k) = start(dir.path()).await;

    let resources = k.run(&["api-resources", "-o", "name"]);
    for name in [
        "configmaps",
        "namespaces",
        "deployments.apps",
        "customresourcedefinitions.apiextensions.k8s.io",
        "leases.coordination.k8s.io",
    ] {
        assert!(
            resources.lines().any(|l| l == name),
            "{name} missing: {resources}"
        );
    }

    // The create generators send protobuf bodies.
    k.run(&["create", "namespace", "gen"]);
    k.run(&[
        "-n",
        "gen",
        "create",
        "configmap",
        "cm",
        "--from-literal=a=b",
    ]);
    k.run(&[
        "-n",
        "gen",
        "create",
        "secret",
        "generic",
        "s",
        "--from-literal=user=admin",
    ]);
    k.run(&[
        "-n",
        "gen",
        "create",
        "deployment",
        "d",
        "--image=nginx",
        "--replicas=3",
    ]);
    k.run(&[
        "-n",
        "gen",
        "create",
        "service",
        "clusterip",
        "svc",
        "--tcp=80:8080",
    ]);
    k.run(&["-n", "gen", "create", "serviceaccount", "sa"]);
    k.run(&[
        "-n",
        "gen",
        "create",
        "role",
        "r",
        "--verb=get",
        "--resource=pods",
    ]);
    assert_eq!(k.json(&["-n", "gen", "get", "cm", "cm"])["data"]["a"], "b");
    assert_eq!(
        k.json(&["-n", "gen", "get", "secret", "s"])["data"]["user"],
        "YWRtaW4="
    );
    let d = k.json(&["-n", "gen", "get", "deployment", "d"]);
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx"
    );
    assert!(d["metadata"].get("generateName").is_none(), "{d}");
    let svc = k.json(&["-n", "gen", "get", "service", "svc"]);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);

    // apply: create, unchanged on the second run, server-side apply too.
    let applied = k.run_with(&["apply", "-f", "-"], Some(MANIFEST));
    assert!(applied.contains("configmap/settings created"), "{applied}");
    let again = k.run_with(&["apply", "-f", "-"], Some(MANIFEST));
    assert!(again.contains("configmap/settings unchanged"), "{again}");
    let changed = MANIFEST.replace("color: blue", "color: red");
    let server_side = k.run_with(
        &["apply", "--server-side", "--force-conflicts", "-f", "-"],
        Some(&changed),
    );
    assert!(server_side.contains("serverside-applied"), "{server_side}");
    assert_eq!(
        k.json(&["-n", "shop", "get", "cm", "settings"])["data"]["color"],
        "red"
    );

    // get in its output forms.
    let wide = k.run(&["-n", "shop", "get", "deployments", "-o", "wide"]);
    assert!(
        wide.contains("web") && wide.contains("nginx:1.27"),
        "{wide}"
    );
    let yaml = k.run(&["-n", "shop", "get", "cm", "settings", "-o", "yaml"]);
    assert!(yaml.contains("color: red"), "{yaml}");
    let names = k.run(&["get", "namespaces", "-o", "name"]);
    assert!(names.contains("namespace/shop") && names.contains("namespace/kube-system"));
    let by_label = k.run(&["-n", "shop", "get", "cm", "-l", "app=shop", "-o", "name"]);
    assert_eq!(by_label.trim(), "configmap/settings");

    // label, annotate, patch (strategic, merge, json), describe.
    k.run(&["-n", "shop", "label", "cm", "settings", "tier=backend"]);
    k.run(&["-n", "shop", "annotate", "cm", "settings", "owner=sre"]);
    k.run(&[
        "-n",
        "shop",
        "patch",
        "deployment",
        "web",
        "-p",
        r#"{"spec":{"replicas":4}}"#,
    ]);
    k.run(&[
        "-n",
        "shop",
        "patch",
        "cm",
        "settings",
        "--type=merge",
        "-p",
        r#"{"data":{"size":"L"}}"#,
    ]);
    k.run(&[
        "-n",
        "shop",
        "patch",
        "cm",
        "settings",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/data/color"}]"#,
    ]);
    let cm = k.json(&["-n", "shop", "get", "cm", "settings"]);
    assert_eq!(cm["metadata"]["labels"]["tier"], "backend");
    assert_eq!(cm["metadata"]["annotations"]["owner"], "sre");
    assert_eq!(cm["data"], serde_json::json!({"size": "L"}));
    assert_eq!(
        k.json(&["-n", "shop", "get", "deployment", "web"])["spec"]["replicas"],
        4
    );
    let described = k.run(&["-n", "shop", "describe", "cm", "settings"]);
    assert!(
        described.contains("Name:") && described.contains("settings"),
        "{described}"
    );

    // explain, on a built-in and on a CRD.
    let explained = k.run(&["explain", "deployment.spec.replicas"]);
    assert!(explained.contains("replicas"), "{explained}");
    k.run_with(
        &["apply", "-f", "-"],
        Some(&serde_json::to_string(&common::widget_crd()).unwrap()),
    );
    k.run(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.example.com",
        "--timeout=30s",
    ]);
    let explained = k.run(&["explain", "widgets.spec.size"]);
    assert!(explained.contains("size"), "{explained}");

    dc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_watch_wait_for_delete_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let (dc, k) = start(dir.path()).await;
    k.run(&[
        "-n",
        "default",
        "create",
        "configmap",
        "first",
        "--from-literal=a=1",
    ]);

    // get -w prints the existing object, then what changes.
    let mut watch = k
        .command(&["-n", "default", "get", "configmaps", "-w", "-o", "name"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = watch.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines_tx.send(line.unwrap_or_default()).is_err() {
                return;
            }
        }
    });
    let expect_line = |wanted: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) if line.trim() == wanted => return,
                Ok(_) => continue,
                Err(e) => panic!("kubectl get -w never printed {wanted}: {e}"),
            }
        }
    };
    expect_line("configmap/first");
    k.run(&[
        "-n",
        "default",
        "create",
        "configmap",
        "second",
        "--from-literal=b=2",
    ]);
    expect_line("configmap/second");
    watch.kill().unwrap();
    watch.wait().unwrap();

    // wait --for=delete returns once another client deleted the object.
    let waiter = k
        .command(&[
            "-n",
            "default",
            "wait",
            "--for=delete",
            "configmap/second",
            "--timeout=30s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    k.run(&["-n", "default", "delete", "configmap", "second"]);
    let out = waiter.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // delete, and a missing object is NotFound.
    k.run(&["-n", "default", "delete", "configmap", "first"]);
    let missing = k
        .command(&["-n", "default", "get", "configmap", "first"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("NotFound"));
    dc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_auth_whoami_names_the_client_certificates_user_and_groups() {
    let dc = Devcluster::start(DevclusterConfig::in_memory())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("user-admin");
    let yaml = dc
        .client_certificate_kubeconfig(
            "system:admin",
            &["system:masters"],
            Some(Duration::from_secs(3600)),
        )
        .unwrap();
    std::fs::write(&kubeconfig, yaml).unwrap();
    let k = Kubectl { kubeconfig };
    let who: Value = serde_json::from_str(&k.run(&["auth", "whoami", "-o", "json"])).unwrap();
    assert_eq!(who["kind"], "SelfSubjectReview");
    assert_eq!(who["status"]["userInfo"]["username"], "system:admin");
    assert_eq!(
        who["status"]["userInfo"]["groups"],
        serde_json::json!(["system:masters", "system:authenticated"])
    );
    dc.stop().await;
}
