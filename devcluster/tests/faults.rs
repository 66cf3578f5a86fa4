//! Fault injection: the requests of one user stall until released; everyone else is served.

use std::time::Duration;

use devcluster::{Devcluster, DevclusterConfig};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;

#[tokio::test]
async fn a_paused_user_stalls_alone_until_released() {
    let dc = Devcluster::start(DevclusterConfig::in_memory())
        .await
        .unwrap();
    let admin = Api::<Namespace>::all(dc.client().await.unwrap());
    let x = Api::<Namespace>::all(dc.client_as("x", &["system:masters"]).await.unwrap());
    let y = Api::<Namespace>::all(dc.client_as("y", &["system:masters"]).await.unwrap());
    assert!(x.get("default").await.is_ok());

    dc.faults().pause("x");
    // A held request whose client gives up is dropped, unprocessed.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), x.get("default"))
            .await
            .is_err(),
        "x was served while paused"
    );
    let held = tokio::spawn(async move { x.get("default").await });
    while dc.faults().held() != 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(y.get("default").await.is_ok());
    assert!(admin.get("default").await.is_ok());
    assert!(!held.is_finished());

    dc.faults().release("x");
    assert!(held.await.unwrap().is_ok());
    assert_eq!(dc.faults().held(), 0);
    dc.stop().await;
}
