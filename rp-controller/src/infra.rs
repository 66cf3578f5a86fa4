//! Names and desired ARM bodies of the Azure resources an install creates in the cluster resource
//! group (architecture version 2: one NSG, an internal and a public load balancer), and the cluster's
//! DNS names. Pure: the lifecycle steps send these bodies through the Azure client layer with
//! idempotent PUTs, so re-running a step converges instead of duplicating.

use crds::management::{OpenShiftClusterSpec, Visibility};
use serde_json::{Value, json};

/// Longest infra id the OpenShift installer accepts.
const INFRA_ID_MAX: usize = 27;

/// The infra id for a cluster name and a random suffix (5 lowercase alphanumerics), like the
/// OpenShift installer: lowercase, non-alphanumerics to `-`, truncated so the whole fits 27 chars.
pub fn infra_id(cluster_name: &str, random_suffix: &str) -> String {
    let budget = INFRA_ID_MAX - random_suffix.len() - 1;
    let base: String = cluster_name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(budget)
        .collect();
    let base = base.trim_matches('-');
    let base = if base.is_empty() { "aro" } else { base };
    format!("{base}-{random_suffix}")
}

/// Fully qualified cluster domain: a single label lives under `<location>.<parent domain>`.
pub fn cluster_fqdn(spec: &OpenShiftClusterSpec, parent_domain: &str) -> String {
    let domain = spec.cluster_profile.domain.to_ascii_lowercase();
    if domain.contains('.') {
        domain
    } else {
        format!(
            "{domain}.{}.{parent_domain}",
            spec.location.to_ascii_lowercase()
        )
    }
}

/// API server URL.
pub fn apiserver_url(fqdn: &str) -> String {
    format!("https://api.{fqdn}:6443/")
}

/// Console URL.
pub fn console_url(fqdn: &str) -> String {
    format!("https://console-openshift-console.apps.{fqdn}/")
}

/// Resource names in the cluster resource group, derived from the infra id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfraNames {
    /// Infra id.
    pub infra_id: String,
    /// Subscription of the cluster resource group.
    pub subscription_id: String,
    /// Cluster resource group name.
    pub resource_group: String,
}

impl InfraNames {
    fn id(&self, provider_type: &str, name: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/{provider_type}/{name}",
            self.subscription_id, self.resource_group
        )
    }

    /// The cluster NSG (architecture 2).
    pub fn nsg(&self) -> String {
        format!("{}-nsg", self.infra_id)
    }

    /// ARM id of the cluster NSG.
    pub fn nsg_id(&self) -> String {
        self.id("Microsoft.Network/networkSecurityGroups", &self.nsg())
    }

    /// Internal load balancer (api-int, machine config server).
    pub fn internal_lb(&self) -> String {
        format!("{}-internal", self.infra_id)
    }

    /// ARM id of the internal load balancer.
    pub fn internal_lb_id(&self) -> String {
        self.id("Microsoft.Network/loadBalancers", &self.internal_lb())
    }

    /// Public load balancer (public API, outbound).
    pub fn public_lb(&self) -> String {
        self.infra_id.clone()
    }

    /// Public IP of the public load balancer's first frontend.
    pub fn public_ip(&self) -> String {
        format!("{}-pip-v4", self.infra_id)
    }

    /// ARM id of a public IP.
    pub fn public_ip_id(&self, name: &str) -> String {
        self.id("Microsoft.Network/publicIPAddresses", name)
    }

    /// Extra managed outbound IP number `n` (1-based beyond the first).
    pub fn outbound_ip(&self, n: u32) -> String {
        format!("{}-outbound-pip-v4-{n}", self.infra_id)
    }

    /// Private link service in front of the internal load balancer.
    pub fn private_link_service(&self) -> String {
        format!("{}-pls", self.infra_id)
    }

    /// Id of the private link service.
    pub fn private_link_service_id(&self) -> String {
        self.id(
            "Microsoft.Network/privateLinkServices",
            &self.private_link_service(),
        )
    }
}

/// Desired NSG: API server reachable on 6443 when the API is public.
pub fn nsg_body(location: &str, api_visibility: Visibility) -> Value {
    let mut rules = Vec::new();
    if api_visibility == Visibility::Public {
        rules.push(json!({
            "name": "apiserver_in",
            "properties": {
                "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "6443",
                "sourceAddressPrefix": "*", "destinationAddressPrefix": "*",
                "access": "Allow", "priority": 101, "direction": "Inbound"
            }
        }));
    }
    json!({"location": location, "properties": {"securityRules": rules}})
}

/// Desired internal load balancer: a frontend in the master subnet, API (6443) and machine config
/// server (22623) rules on the master backend pool.
pub fn internal_lb_body(names: &InfraNames, location: &str, master_subnet_id: &str) -> Value {
    let lb_id = names.internal_lb_id();
    let frontend = format!("{lb_id}/frontendIPConfigurations/internal-lb-ip-v4");
    let pool = format!("{lb_id}/backendAddressPools/{}", names.infra_id);
    let rule = |name: &str, port: u16, probe: &str| {
        json!({
            "name": name,
            "properties": {
                "frontendIPConfiguration": {"id": frontend},
                "backendAddressPool": {"id": pool},
                "probe": {"id": format!("{lb_id}/probes/{probe}")},
                "protocol": "Tcp", "frontendPort": port, "backendPort": port,
                "loadDistribution": "Default", "idleTimeoutInMinutes": 30
            }
        })
    };
    let probe = |name: &str, port: u16, path: &str| {
        json!({"name": name, "properties": {"protocol": "Https", "port": port, "requestPath": path,
               "intervalInSeconds": 5, "numberOfProbes": 2}})
    };
    json!({
        "location": location,
        "sku": {"name": "Standard"},
        "properties": {
            "frontendIPConfigurations": [{
                "name": "internal-lb-ip-v4",
                "properties": {"privateIPAllocationMethod": "Dynamic", "subnet": {"id": master_subnet_id}}
            }],
            "backendAddressPools": [{"name": names.infra_id}],
            "loadBalancingRules": [rule("api-internal-v4", 6443, "api-internal-probe"),
                                   rule("sint-v4", 22623, "sint-probe")],
            "probes": [probe("api-internal-probe", 6443, "/readyz"), probe("sint-probe", 22623, "/healthz")]
        }
    })
}

/// Desired public IP (static, Standard SKU).
pub fn public_ip_body(location: &str) -> Value {
    json!({
        "location": location,
        "sku": {"name": "Standard"},
        "properties": {"publicIPAllocationMethod": "Static", "publicIPAddressVersion": "IPv4"}
    })
}

/// Desired public load balancer: the API frontend when the API is public, and an outbound rule over
/// `outbound_ip_names` (the managed outbound IPs).
pub fn public_lb_body(
    names: &InfraNames,
    location: &str,
    api_visibility: Visibility,
    outbound_ip_names: &[String],
) -> Value {
    let lb_id = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/loadBalancers/{}",
        names.subscription_id,
        names.resource_group,
        names.public_lb()
    );
    let pool = format!("{lb_id}/backendAddressPools/{}", names.infra_id);
    let frontends: Vec<Value> = outbound_ip_names
        .iter()
        .map(|ip| json!({"name": ip, "properties": {"publicIPAddress": {"id": names.public_ip_id(ip)}}}))
        .collect();
    let mut rules = Vec::new();
    let mut probes = Vec::new();
    if api_visibility == Visibility::Public {
        let api_frontend = format!("{lb_id}/frontendIPConfigurations/{}", names.public_ip());
        rules.push(json!({
            "name": "api-internal-v4",
            "properties": {
                "frontendIPConfiguration": {"id": api_frontend}, "backendAddressPool": {"id": pool},
                "probe": {"id": format!("{lb_id}/probes/api-internal-probe")},
                "protocol": "Tcp", "frontendPort": 6443, "backendPort": 6443,
                "loadDistribution": "Default", "idleTimeoutInMinutes": 30, "disableOutboundSnat": true
            }
        }));
        probes.push(
            json!({"name": "api-internal-probe", "properties": {"protocol": "Https", "port": 6443,
                           "requestPath": "/readyz", "intervalInSeconds": 5, "numberOfProbes": 2}}),
        );
    }
    let outbound_frontends: Vec<Value> = outbound_ip_names
        .iter()
        .map(|ip| json!({"id": format!("{lb_id}/frontendIPConfigurations/{ip}")}))
        .collect();
    json!({
        "location": location,
        "sku": {"name": "Standard"},
        "properties": {
            "frontendIPConfigurations": frontends,
            "backendAddressPools": [{"name": names.infra_id}],
            "loadBalancingRules": rules,
            "probes": probes,
            "outboundRules": [{
                "name": "outbound-rule-v4",
                "properties": {
                    "frontendIPConfigurations": outbound_frontends,
                    "backendAddressPool": {"id": pool},
                    "protocol": "All", "idleTimeoutInMinutes": 30, "allocatedOutboundPorts": 1024
                }
            }]
        }
    })
}

/// Names of the public IPs the public load balancer needs: the API/first outbound IP plus one per
/// extra managed outbound IP.
pub fn outbound_ip_names(names: &InfraNames, managed_outbound_ips: i32) -> Vec<String> {
    let extra = managed_outbound_ips.max(1) as u32 - 1;
    std::iter::once(names.public_ip())
        .chain((1..=extra).map(|n| names.outbound_ip(n)))
        .collect()
}

/// Desired private link service over the internal load balancer frontend.
pub fn private_link_service_body(
    names: &InfraNames,
    location: &str,
    master_subnet_id: &str,
) -> Value {
    json!({
        "location": location,
        "properties": {
            "loadBalancerFrontendIpConfigurations": [{
                "id": format!("{}/frontendIPConfigurations/internal-lb-ip-v4", names.internal_lb_id())
            }],
            "ipConfigurations": [{
                "name": format!("{}-pls-nic", names.infra_id),
                "properties": {"subnet": {"id": master_subnet_id}}
            }]
        }
    })
}

/// Desired subnet body with the cluster NSG attached (the rest of the subnet copied from `current`).
pub fn subnet_with_nsg(current: &Value, nsg_id: &str) -> Value {
    let mut desired = current.clone();
    desired["properties"]["networkSecurityGroup"] = json!({"id": nsg_id});
    desired
}

/// Whether the cluster's domain is in the RP's DNS zone for its region (a single-label domain);
/// a custom domain's zone is the customer's.
pub fn in_rp_zone(spec: &OpenShiftClusterSpec, parent_domain: &str) -> bool {
    !dns_records(spec, parent_domain, "", "").is_empty()
}

/// DNS records the RP owns for a cluster under its parent domain: (relative name, IP).
pub fn dns_records(
    spec: &OpenShiftClusterSpec,
    parent_domain: &str,
    api_ip: &str,
    ingress_ip: &str,
) -> Vec<(String, String)> {
    let fqdn = cluster_fqdn(spec, parent_domain);
    let zone_suffix = format!(".{}.{parent_domain}", spec.location.to_ascii_lowercase());
    match fqdn.strip_suffix(&zone_suffix) {
        // Only domains under the RP's zone are the RP's to manage; custom domains are the customer's.
        Some(label) => vec![
            (format!("api.{label}"), api_ip.to_string()),
            (format!("*.apps.{label}"), ingress_ip.to_string()),
        ],
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> InfraNames {
        InfraNames {
            infra_id: "demo-abcde".into(),
            subscription_id: "sub".into(),
            resource_group: "aro-demo".into(),
        }
    }

    #[test]
    fn infra_ids_fit_the_installer_limit() {
        assert_eq!(infra_id("Demo", "abcde"), "demo-abcde");
        assert_eq!(infra_id("my_cluster.1", "x1y2z"), "my-cluster-1-x1y2z");
        let long = infra_id(&"a".repeat(80), "abcde");
        assert_eq!(long.len(), 27);
        assert_eq!(infra_id("___", "abcde"), "aro-abcde");
    }

    #[test]
    fn domains_and_urls() {
        let mut spec = OpenShiftClusterSpec {
            location: "EastUS".into(),
            ..Default::default()
        };
        spec.cluster_profile.domain = "demo".into();
        let fqdn = cluster_fqdn(&spec, "aroapp.io");
        assert_eq!(fqdn, "demo.eastus.aroapp.io");
        assert_eq!(
            apiserver_url(&fqdn),
            "https://api.demo.eastus.aroapp.io:6443/"
        );
        assert_eq!(
            console_url(&fqdn),
            "https://console-openshift-console.apps.demo.eastus.aroapp.io/"
        );
        assert_eq!(
            dns_records(&spec, "aroapp.io", "1.1.1.1", "2.2.2.2"),
            vec![
                ("api.demo".to_string(), "1.1.1.1".to_string()),
                ("*.apps.demo".to_string(), "2.2.2.2".to_string())
            ]
        );
        spec.cluster_profile.domain = "apps.contoso.com".into();
        assert_eq!(cluster_fqdn(&spec, "aroapp.io"), "apps.contoso.com");
        assert!(
            dns_records(&spec, "aroapp.io", "1.1.1.1", "2.2.2.2").is_empty(),
            "custom domains are the customer's"
        );
    }

    #[test]
    fn nsg_opens_the_api_only_when_public() {
        let public = nsg_body("eastus", Visibility::Public);
        assert_eq!(
            public["properties"]["securityRules"][0]["properties"]["destinationPortRange"],
            "6443"
        );
        let private = nsg_body("eastus", Visibility::Private);
        assert_eq!(private["properties"]["securityRules"], json!([]));
        assert!(names().nsg_id().ends_with("/resourceGroups/aro-demo/providers/Microsoft.Network/networkSecurityGroups/demo-abcde-nsg"));
    }

    #[test]
    fn load_balancers_reference_their_own_parts() {
        let n = names();
        let internal = internal_lb_body(&n, "eastus", "/subnets/master");
        let rules = internal["properties"]["loadBalancingRules"]
            .as_array()
            .unwrap();
        assert_eq!(rules.len(), 2);
        for rule in rules {
            let frontend = rule["properties"]["frontendIPConfiguration"]["id"]
                .as_str()
                .unwrap();
            assert!(frontend.starts_with(&n.internal_lb_id()), "{frontend}");
        }
        let ips = outbound_ip_names(&n, 3);
        assert_eq!(
            ips,
            vec![
                "demo-abcde-pip-v4",
                "demo-abcde-outbound-pip-v4-1",
                "demo-abcde-outbound-pip-v4-2"
            ]
        );
        let public = public_lb_body(&n, "eastus", Visibility::Public, &ips);
        assert_eq!(
            public["properties"]["frontendIPConfigurations"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            public["properties"]["outboundRules"][0]["properties"]["frontendIPConfigurations"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            public["properties"]["loadBalancingRules"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let private = public_lb_body(&n, "eastus", Visibility::Private, &outbound_ip_names(&n, 0));
        assert_eq!(private["properties"]["loadBalancingRules"], json!([]));
        assert_eq!(
            private["properties"]["frontendIPConfigurations"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn subnet_gets_the_nsg_and_keeps_everything_else() {
        let current =
            json!({"properties": {"addressPrefix": "10.0.0.0/23", "routeTable": {"id": "/rt"}}});
        let desired = subnet_with_nsg(&current, "/nsg");
        assert_eq!(desired["properties"]["routeTable"]["id"], "/rt");
        assert_eq!(desired["properties"]["networkSecurityGroup"]["id"], "/nsg");
    }
}
