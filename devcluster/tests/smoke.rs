use devcluster::{Devcluster, DevclusterConfig};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};

#[tokio::test]
async fn kube_client_round_trip() {
    let dc = Devcluster::start(DevclusterConfig::in_memory())
        .await
        .unwrap();
    let client = dc.client().await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm: ConfigMap =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "a"}, "data": {"k": "v"}}))
            .unwrap();
    let created = cms.create(&PostParams::default(), &cm).await.unwrap();
    assert!(created.metadata.uid.is_some());
    let got = cms.get("a").await.unwrap();
    assert_eq!(got.data.unwrap()["k"], "v");
    let list = cms.list(&ListParams::default()).await.unwrap();
    // "a" and the namespace's kube-root-ca.crt.
    assert_eq!(list.items.len(), 2);
    dc.stop().await;
}

/// The in-process client reaches the same API as a connection does: what one writes the other
/// reads, its watches see writes made over HTTPS, and once the server stops its requests fail and
/// its watches end.
#[tokio::test]
async fn in_process_client_shares_the_api_and_ends_with_the_server() {
    use futures::{StreamExt, TryStreamExt};
    use kube::api::WatchParams;
    use kube::core::WatchEvent;

    let dc = Devcluster::start(DevclusterConfig::in_memory())
        .await
        .unwrap();
    let local: Api<ConfigMap> = Api::namespaced(dc.in_process_client(), "default");
    let remote: Api<ConfigMap> = Api::namespaced(dc.client().await.unwrap(), "default");
    let cm = |name: &str| -> ConfigMap {
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap()
    };
    let created = local
        .create(&PostParams::default(), &cm("a"))
        .await
        .unwrap();
    assert_eq!(
        remote.get("a").await.unwrap().metadata.uid,
        created.metadata.uid
    );

    let mut events = local
        .watch(
            &WatchParams::default(),
            &created.metadata.resource_version.unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    remote
        .create(&PostParams::default(), &cm("b"))
        .await
        .unwrap();
    match events.try_next().await.unwrap() {
        Some(WatchEvent::Added(added)) => assert_eq!(added.metadata.name.as_deref(), Some("b")),
        other => panic!("expected the creation of b, got {other:?}"),
    }

    let token = dc.shutdown_token();
    token.cancel();
    // The watch ends (cleanly or with an error), and a new request is refused.
    while let Some(Ok(_)) = events.next().await {}
    assert!(local.get("a").await.is_err());
    dc.stop().await;
}

/// A durable server's successor opens the same data directory at once: after `stop`, and after
/// a drop (an aborted owner) even while a client of the old server still holds it.
#[tokio::test]
async fn a_successor_opens_the_data_dir_after_stop_or_drop() {
    let dir = tempfile::tempdir().unwrap();
    let config = DevclusterConfig::durable(dir.path());
    let first = Devcluster::start(config.clone()).await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(first.in_process_client(), "default");
    let cm: ConfigMap =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "kept"}})).unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap();
    first.stop().await;

    let second = Devcluster::start(config.clone()).await.unwrap();
    let lingering: Api<ConfigMap> = Api::namespaced(second.in_process_client(), "default");
    assert!(lingering.get("kept").await.is_ok());
    drop(second);

    let third = Devcluster::start(config).await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(third.in_process_client(), "default");
    assert!(cms.get("kept").await.is_ok());
    // The dropped server's client is refused rather than writing to a closed store.
    assert!(lingering.get("kept").await.is_err());
    third.stop().await;
}

/// A client certificate signed by a CA the server was given besides its own is accepted (as
/// kube-apiserver with an extra client CA bundle); without it the handshake fails.
#[tokio::test]
async fn extra_client_cas_are_trusted_for_client_certificates() {
    use base64::Engine;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "extra-client-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_ca_cert_pem(&ca_cert.pem(), ca_key).unwrap();
    let user_key = KeyPair::generate().unwrap();
    let mut user_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    user_params
        .distinguished_name
        .push(DnType::OrganizationName, "system:masters");
    user_params
        .distinguished_name
        .push(DnType::CommonName, "alice");
    let user_cert = user_params.signed_by(&user_key, &issuer).unwrap();

    // The server's own CA for the serving certificate, the extra CA's certificate as the user.
    let as_alice = |dc: &Devcluster| {
        let own = dc
            .client_certificate_kubeconfig("someone", &[], None)
            .unwrap();
        let mut kubeconfig: serde_yaml::Value = serde_yaml::from_str(&own).unwrap();
        let user = &mut kubeconfig["users"][0]["user"];
        user["client-certificate-data"] = b64(&user_cert.pem()).into();
        user["client-key-data"] = b64(&user_key.serialize_pem()).into();
        serde_yaml::to_string(&kubeconfig).unwrap()
    };
    let client_of = |yaml: String| async move {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&yaml).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap();
        kube::Client::try_from(config).unwrap()
    };

    let trusting = Devcluster::start(DevclusterConfig {
        extra_client_ca_pems: vec![ca_cert.pem()],
        ..DevclusterConfig::in_memory()
    })
    .await
    .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client_of(as_alice(&trusting)).await, "default");
    cms.list(&ListParams::default())
        .await
        .expect("alice is authenticated");
    trusting.stop().await;

    let other = Devcluster::start(DevclusterConfig::in_memory())
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client_of(as_alice(&other)).await, "default");
    assert!(cms.list(&ListParams::default()).await.is_err());
    other.stop().await;
}
