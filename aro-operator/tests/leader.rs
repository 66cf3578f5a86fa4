//! Leader election against a real API server: exactly one candidate leads, a valid lease is
//! respected, a released lease is taken over at once.

use std::time::Duration;

use aro_operator::leader::{LeaseConfig, release, try_acquire_or_renew};
use devcluster::{Devcluster, DevclusterConfig};

fn config(identity: &str) -> LeaseConfig {
    LeaseConfig {
        namespace: "default".into(),
        name: "aro-operator-master".into(),
        identity: identity.into(),
        lease_duration: Duration::from_secs(60),
        retry_period: Duration::from_secs(1),
    }
}

#[tokio::test]
async fn one_leader_at_a_time_and_release_hands_over() {
    let dc = Devcluster::start(DevclusterConfig::in_memory())
        .await
        .unwrap();
    let client = dc.client().await.unwrap();
    let (a, b) = (config("a"), config("b"));

    // Both race for the free lease: optimistic concurrency lets exactly one win.
    let (ra, rb) = tokio::join!(
        try_acquire_or_renew(&client, &a),
        try_acquire_or_renew(&client, &b)
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(ra ^ rb, "exactly one leader: a={ra} b={rb}");
    let (leader, other) = if ra { (&a, &b) } else { (&b, &a) };

    assert!(
        try_acquire_or_renew(&client, leader).await.unwrap(),
        "the leader renews"
    );
    assert!(
        !try_acquire_or_renew(&client, other).await.unwrap(),
        "a valid lease is respected"
    );

    release(&client, leader).await;
    assert!(
        try_acquire_or_renew(&client, other).await.unwrap(),
        "a released lease is taken over"
    );
    assert!(!try_acquire_or_renew(&client, leader).await.unwrap());
    dc.stop().await;
}
