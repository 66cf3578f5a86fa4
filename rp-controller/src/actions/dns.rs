//! The cluster's record sets in the RP's DNS zone for its region: created at install owned by the
//! cluster (another cluster's record set is never taken over), removed at delete only when owned.

use azure_clients::ArmClient;
use crds::ArmError;
use serde_json::{Value, json};

use super::{StepEnv, access};
use crate::azure::{self, DNS_API, RESOURCES_API, StepResult};
use crate::infra;
use crate::steps::Outcome;

fn dns_zone_id(env: &StepEnv<'_>) -> String {
    format!(
        "{}/providers/Microsoft.Network/dnszones/{}.{}",
        env.ctx.settings.dns_resource_group_id.trim_end_matches('/'),
        env.cluster.spec.location.to_ascii_lowercase(),
        env.ctx.settings.parent_domain
    )
}

pub(super) async fn create_dns(env: &mut StepEnv<'_>) -> StepResult<()> {
    let api_ip = env.status.apiserver_ip.clone().unwrap_or_default();
    let ingress_ip = env
        .status
        .ingress_ips
        .first()
        .map(|i| i.ip.clone())
        .unwrap_or_else(|| api_ip.clone());
    let records = infra::dns_records(
        &env.cluster.spec,
        &env.ctx.settings.parent_domain,
        &api_ip,
        &ingress_ip,
    );
    if records.is_empty() || env.ctx.settings.dns_resource_group_id.is_empty() {
        return Ok(());
    }
    let arm = env.arm();
    let zone_id = dns_zone_id(env);
    if azure::get(&arm, &zone_id, DNS_API).await?.is_none() {
        // The RP's zone for this region: created on first use.
        let rg = env.ctx.settings.dns_resource_group_id.clone();
        azure::ensure_resource(
            &arm,
            &rg,
            RESOURCES_API,
            &json!({"location": env.ctx.settings.dns_location}),
        )
        .await?;
        azure::put(&arm, &zone_id, DNS_API, &json!({"location": "global"})).await?;
    }
    let owner = env.cluster.spec.resource_id.clone();
    for (name, ip) in records {
        let id = format!("{zone_id}/A/{name}");
        ensure_record_set(&arm, &id, &owner, &ip, &env.fqdn()).await?;
    }
    Ok(())
}

/// Whether a record set (as ARM returns it) carries `owner` as its owner.
pub fn record_set_owned_by(record_set: &Value, owner: &str) -> bool {
    record_set["properties"]["metadata"][access::OWNER_TAG]
        .as_str()
        .is_some_and(|o| o.eq_ignore_ascii_case(owner))
}

/// The customer-facing error of a domain whose record sets another cluster holds.
pub fn duplicate_domain(domain: &str) -> ArmError {
    ArmError::new(
        "DuplicateDomain",
        format!("The provided domain '{domain}' is already in use by a cluster."),
    )
    .with_target("properties.clusterProfile.domain")
}

/// Make record set `id` an A record to `ip` owned by `owner` (its metadata names the cluster's
/// resource id). A new one is created with `If-None-Match: *`, so another cluster's record set is
/// never overwritten, however close the race; one that exists is ours to update (under its etag)
/// only when its metadata names us, and another's fails the step as a duplicate domain. A step
/// re-run after a crash finds its own record set and accepts it.
async fn ensure_record_set(
    arm: &ArmClient,
    id: &str,
    owner: &str,
    ip: &str,
    domain: &str,
) -> StepResult<()> {
    let body = json!({"properties": {
        "TTL": 300,
        "metadata": {access::OWNER_TAG: owner},
        "ARecords": [{"ipv4Address": ip}],
    }});
    let current = azure::get(arm, id, DNS_API).await?;
    let condition = match &current {
        Some(c) if !record_set_owned_by(c, owner) => {
            tracing::warn!(record_set = %id, cluster = %owner, "the cluster's domain is held by another record set owner");
            return Err(Outcome::Failed(duplicate_domain(domain)));
        }
        Some(c) if c["properties"]["ARecords"][0]["ipv4Address"].as_str() == Some(ip) => {
            return Ok(());
        }
        Some(c) => azure::unchanged(c),
        None => azure_clients::Precondition::Absent,
    };
    match arm.put_if(id, DNS_API, &body, &condition).await {
        Ok(_) => Ok(()),
        // Created or replaced meanwhile: read it again and decide anew.
        Err(e) if e.is_precondition_failed() => Err(Outcome::InProgress {
            poll_after: azure::CHANGED_POLL,
            pending_operation_url: None,
        }),
        Err(e) => Err(azure::outcome_of(&e)),
    }
}

/// Delete: the cluster's record sets, only those whose metadata names it, each under the etag
/// read (a record set another cluster took over meanwhile is re-read, not deleted).
pub(super) async fn remove_dns(env: &mut StepEnv<'_>) -> StepResult<()> {
    if env.ctx.settings.dns_resource_group_id.is_empty() {
        return Ok(());
    }
    let records = infra::dns_records(&env.cluster.spec, &env.ctx.settings.parent_domain, "", "");
    let arm = env.arm();
    let zone_id = dns_zone_id(env);
    let owner = env.cluster.spec.resource_id.clone();
    for (name, _) in records {
        let id = format!("{zone_id}/A/{name}");
        let Some(current) = azure::get(&arm, &id, DNS_API).await? else {
            continue;
        };
        if !record_set_owned_by(&current, &owner) {
            tracing::warn!(record_set = %id, cluster = %owner, "leaving another owner's record set alone");
            continue;
        }
        azure::delete_read(&arm, &id, DNS_API, &current).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::access::OWNER_TAG;
    use super::*;
    use crate::actions::testing::{Harness, cluster, dns_resource_group_id, installing};
    use crate::steps::StepId;
    use crds::management::IngressIp;

    #[test]
    fn a_record_set_is_owned_only_when_its_metadata_names_the_cluster() {
        let cluster = "/subscriptions/s/resourceGroups/r/providers/Microsoft.RedHatOpenShift/openShiftClusters/c";
        let owned = json!({"properties": {"metadata": {OWNER_TAG: cluster}}});
        assert!(record_set_owned_by(&owned, &cluster.to_uppercase()));
        let other = json!({"properties": {"metadata": {OWNER_TAG: "/subscriptions/t/x"}}});
        assert!(!record_set_owned_by(&other, cluster));
        // A record set without an owner (made by hand, or by another RP) is nobody's to take.
        assert!(!record_set_owned_by(&json!({"properties": {}}), cluster));
        let e = duplicate_domain("c.eastus.aroapp.io");
        assert_eq!(e.code, "DuplicateDomain");
        assert_eq!(
            e.target.as_deref(),
            Some("properties.clusterProfile.domain")
        );
        assert!(e.message.contains("'c.eastus.aroapp.io'"), "{}", e.message);
    }

    fn zone_id() -> String {
        format!(
            "{}/providers/Microsoft.Network/dnszones/eastus.aro.example",
            dns_resource_group_id()
        )
    }

    #[tokio::test]
    async fn record_sets_are_created_owned_and_another_cluster_cannot_take_or_remove_them() {
        let h = Harness::arm_only().await;
        let cluster = cluster();
        let mut status = installing();
        status.apiserver_ip = Some("20.0.0.10".into());
        status.ingress_ips = vec![IngressIp {
            name: "default".into(),
            ip: "20.0.0.11".into(),
        }];
        let outcome = h.run(StepId::CreateDns, &cluster, &mut status).await;
        assert_eq!(outcome, Outcome::Done);
        // The RP's zone is created on first use, in its resource group.
        assert!(h.resource(&dns_resource_group_id()).is_some());
        let api = h.resource(&format!("{}/A/api.demo", zone_id())).unwrap();
        assert!(record_set_owned_by(&api, &cluster.spec.resource_id));
        assert_eq!(api["properties"]["ARecords"][0]["ipv4Address"], "20.0.0.10");
        let apps = h.resource(&format!("{}/A/*.apps.demo", zone_id())).unwrap();
        assert_eq!(
            apps["properties"]["ARecords"][0]["ipv4Address"],
            "20.0.0.11"
        );

        // Another cluster asking for the same domain: a duplicate, the customer's to act on.
        let mut other = cluster.clone();
        other.spec.resource_id = other.spec.resource_id.replace("/demo", "/other");
        let Outcome::Failed(e) = h.run(StepId::CreateDns, &other, &mut status).await else {
            panic!("a duplicate domain fails the step");
        };
        assert_eq!(e.code, "DuplicateDomain");
        // Its delete leaves the owner's record sets alone.
        let outcome = h.run(StepId::RemoveDns, &other, &mut status).await;
        assert_eq!(outcome, Outcome::Done);
        assert!(h.resource(&format!("{}/A/api.demo", zone_id())).is_some());

        let outcome = h.run(StepId::RemoveDns, &cluster, &mut status).await;
        assert_eq!(outcome, Outcome::Done);
        assert!(h.resource(&format!("{}/A/api.demo", zone_id())).is_none());
        assert!(
            h.resource(&format!("{}/A/*.apps.demo", zone_id()))
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_custom_domain_is_the_customers_and_gets_no_record_sets() {
        let h = Harness::arm_only().await;
        let mut cluster = cluster();
        cluster.spec.cluster_profile.domain = "cluster.example.com".into();
        let mut status = installing();
        for step in [StepId::CreateDns, StepId::RemoveDns] {
            let outcome = h.run(step, &cluster, &mut status).await;
            assert_eq!(outcome, Outcome::Done);
        }
        assert!(h.emulator.requests().is_empty());
    }
}
