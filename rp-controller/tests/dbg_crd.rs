#[tokio::test]
async fn dbg() {
    let _ = tracing_subscriber::fmt().with_env_filter("debug,hyper=info,rustls=info,h2=info,tower=info").try_init();
    let dc = devcluster::Devcluster::start(devcluster::DevclusterConfig::in_memory()).await.unwrap();
    let client = dc.client().await.unwrap();
    for crd in crds::management_crds() {
        let name = crd.metadata.name.clone().unwrap();
        let r = tokio::time::timeout(std::time::Duration::from_secs(5), aro_operator::manifests::apply_crds(&client, &[crd])).await;
        println!("{name}: {:?}", r.map(|r| r.map_err(|e| e.to_string())));
        let api: kube::Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = kube::Api::all(client.clone());
        let got = api.get(&name).await.unwrap();
        println!("{}", serde_json::to_string(&got.status).unwrap());
    }
}
