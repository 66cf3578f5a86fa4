//! Static validation of a cluster document (as ARO-RP's `openshiftcluster_validatestatic.go` of
//! each API version): every rule reports an ARM error code and the JSON path of the field in the
//! caller's API version; all violations are returned together.

use std::net::Ipv4Addr;
use std::sync::LazyLock;

use aro_common::ResourceId;
use crds::ArmErrorDetail;
use ipnet::Ipv4Net;
use regex::Regex;

use super::external as ext;
use super::{Features, LoadBalancerShape};

/// ARM error codes used by validation.
pub mod codes {
    pub const INVALID_PARAMETER: &str = "InvalidParameter";
    pub const MISMATCHING_RESOURCE_ID: &str = "MismatchingResourceID";
    pub const MISMATCHING_RESOURCE_NAME: &str = "MismatchingResourceName";
    pub const MISMATCHING_RESOURCE_TYPE: &str = "MismatchingResourceType";
    pub const INVALID_NETWORK_ADDRESS: &str = "InvalidNetworkAddress";
    pub const INVALID_CIDR_RANGE: &str = "InvalidCIDRRange";
    pub const PROPERTY_CHANGE_NOT_ALLOWED: &str = "PropertyChangeNotAllowed";
}

/// What static validation needs to know beyond the document.
#[derive(Clone, Debug)]
pub struct ValidationContext<'a> {
    /// The version's features (which rules and paths apply).
    pub features: Features,
    /// ARM id of the URL (original case).
    pub resource_id: &'a str,
    /// Subscription of the URL.
    pub subscription_id: &'a str,
    /// Resource group of the URL.
    pub resource_group: &'a str,
    /// Resource name of the URL.
    pub resource_name: &'a str,
    /// The RP's region.
    pub location: &'a str,
    /// Create (true) or update of an existing cluster.
    pub is_create: bool,
    /// The RP's parent DNS domain for managed domains (e.g. `aroapp.io`), if any.
    pub parent_domain: Option<&'a str>,
    /// Architecture version of the stored cluster (1 limits managed outbound IPs to 1).
    pub architecture_version: i32,
    /// Development/CI mode: workers must be Standard_D2s_v3..v5 (ARO's RequireD2sWorkers).
    pub require_d2s_workers: bool,
}

fn err(code: &str, target: &str, message: String) -> ArmErrorDetail {
    ArmErrorDetail {
        code: code.to_string(),
        message,
        target: Some(target.to_string()),
    }
}

fn invalid(target: &str, message: String) -> ArmErrorDetail {
    err(codes::INVALID_PARAMETER, target, message)
}

/// Resource type of a subnet.
const SUBNET: &str = "Microsoft.Network/virtualNetworks/subnets";
/// Resource type of a disk encryption set.
const DISK_ENCRYPTION_SET: &str = "Microsoft.Compute/diskEncryptionSets";
/// Resource type of a user assigned identity.
const USER_ASSIGNED_IDENTITY: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";

/// `id` as the ARM id of a resource of `resource_type` (e.g. [`SUBNET`]): keywords and type in
/// any case, exactly one leading slash and none trailing.
fn resource_id_of_type(id: &str, resource_type: &str) -> Option<ResourceId> {
    // The parser also accepts slashes around an id; an id in a request body has none but the first.
    if !id.starts_with('/') || id.starts_with("//") || id.ends_with('/') {
        return None;
    }
    ResourceId::parse(id)
        .ok()
        .filter(|parsed| parsed.is_type(resource_type))
}

/// Whether `id` is in the cluster's subscription.
fn in_subscription(id: &ResourceId, ctx: &ValidationContext<'_>) -> bool {
    id.subscription.eq_ignore_ascii_case(ctx.subscription_id)
}

// A resource group id has no provider part, which ResourceId requires.
static RESOURCE_GROUP_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^/subscriptions/([^/]+)/resourceGroups/([-a-z0-9_().]{0,89}[-a-z0-9_()])$")
        .expect("valid regex")
});
static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
        .expect("valid regex")
});
static CREATE_DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$")
        .expect("valid regex")
});
static RFC1123_DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$")
        .expect("valid regex")
});

/// Whether `value` is a UUID in its canonical text form.
pub fn is_uuid(value: &str) -> bool {
    UUID.is_match(value)
}

/// Master VM sizes of OpenShift < 4.19.
const MASTER_SIZES: &[&str] = &[
    "Standard_D8s_v3",
    "Standard_D16s_v3",
    "Standard_D32s_v3",
    "Standard_D8as_v4",
    "Standard_D16as_v4",
    "Standard_D32as_v4",
    "Standard_D8s_v4",
    "Standard_D16s_v4",
    "Standard_D32s_v4",
    "Standard_D8as_v5",
    "Standard_D16as_v5",
    "Standard_D32as_v5",
    "Standard_D8s_v5",
    "Standard_D16s_v5",
    "Standard_D32s_v5",
    "Standard_D8ds_v5",
    "Standard_D16ds_v5",
    "Standard_D32ds_v5",
    "Standard_D8ads_v5",
    "Standard_D16ads_v5",
    "Standard_D32ads_v5",
    "Standard_E8s_v3",
    "Standard_E16s_v3",
    "Standard_E32s_v3",
    "Standard_E64is_v3",
    "Standard_E64i_v3",
    "Standard_E80is_v4",
    "Standard_E80ids_v4",
    "Standard_E8s_v4",
    "Standard_E16s_v4",
    "Standard_E20s_v4",
    "Standard_E32s_v4",
    "Standard_E48s_v4",
    "Standard_E64s_v4",
    "Standard_E8s_v5",
    "Standard_E16s_v5",
    "Standard_E20s_v5",
    "Standard_E32s_v5",
    "Standard_E48s_v5",
    "Standard_E64s_v5",
    "Standard_E96s_v5",
    "Standard_E8as_v4",
    "Standard_E16as_v4",
    "Standard_E20as_v4",
    "Standard_E32as_v4",
    "Standard_E48as_v4",
    "Standard_E64as_v4",
    "Standard_E96as_v4",
    "Standard_E8as_v5",
    "Standard_E16as_v5",
    "Standard_E20as_v5",
    "Standard_E32as_v5",
    "Standard_E48as_v5",
    "Standard_E64as_v5",
    "Standard_E96as_v5",
    "Standard_E64is_v3",
    "Standard_E104is_v5",
    "Standard_E104i_v5",
    "Standard_F72s_v2",
    "Standard_M128ms",
];

/// Master and worker VM sizes that need OpenShift >= 4.19.
const V6_SIZES: &[&str] = &[
    "Standard_D8s_v6",
    "Standard_D16s_v6",
    "Standard_D32s_v6",
    "Standard_D8ds_v6",
    "Standard_D16ds_v6",
    "Standard_D32ds_v6",
    "Standard_E8s_v6",
    "Standard_E16s_v6",
    "Standard_E32s_v6",
];

/// Worker sizes beyond the master ones.
const WORKER_EXTRA_SIZES: &[&str] = &[
    "Standard_D4s_v3",
    "Standard_D4as_v4",
    "Standard_D4s_v4",
    "Standard_D4as_v5",
    "Standard_D4s_v5",
    "Standard_D4ds_v5",
    "Standard_D4ads_v5",
    "Standard_D64s_v3",
    "Standard_D64as_v4",
    "Standard_D48s_v5",
    "Standard_D64s_v5",
    "Standard_D96s_v5",
    "Standard_E4s_v3",
    "Standard_E4s_v4",
    "Standard_E4s_v5",
    "Standard_E4as_v4",
    "Standard_E4as_v5",
    "Standard_F4s_v2",
    "Standard_F8s_v2",
    "Standard_F16s_v2",
    "Standard_F32s_v2",
    "Standard_L4s",
    "Standard_L8s",
    "Standard_L16s",
    "Standard_L32s",
    "Standard_L8s_v2",
    "Standard_L16s_v2",
    "Standard_L32s_v2",
    "Standard_L48s_v2",
    "Standard_L64s_v2",
    "Standard_NC4as_T4_v3",
    "Standard_NC8as_T4_v3",
    "Standard_NC16as_T4_v3",
    "Standard_NC64as_T4_v3",
    "Standard_D4s_v6",
    "Standard_D4ds_v6",
    "Standard_E4s_v6",
];

const D2S_WORKER_SIZES: &[&str] = &["Standard_D2s_v3", "Standard_D2s_v4", "Standard_D2s_v5"];

fn version_at_least(version: &str, major: u64, minor: u64) -> bool {
    semver::Version::parse(version)
        .map(|v| (v.major, v.minor) >= (major, minor))
        // An empty version means the RP default, which is current.
        .unwrap_or(version.is_empty())
}

/// Whether `size` is a valid master VM size for OpenShift `version`.
pub fn master_size_valid(size: &str, version: &str) -> bool {
    MASTER_SIZES.iter().any(|s| s.eq_ignore_ascii_case(size))
        || (V6_SIZES.iter().any(|s| s.eq_ignore_ascii_case(size))
            && version_at_least(version, 4, 19))
}

/// Whether `size` is a valid worker VM size.
pub fn worker_size_valid(size: &str, version: &str, require_d2s: bool) -> bool {
    if require_d2s {
        return D2S_WORKER_SIZES
            .iter()
            .any(|s| s.eq_ignore_ascii_case(size));
    }
    master_size_valid(size, version)
        || WORKER_EXTRA_SIZES
            .iter()
            .any(|s| s.eq_ignore_ascii_case(size))
}

fn check_enum(
    errors: &mut Vec<ArmErrorDetail>,
    value: &Option<String>,
    allowed: &[&str],
    target: &str,
) {
    if let Some(v) = value
        && !allowed.contains(&v.as_str())
    {
        errors.push(invalid(
            target,
            format!("The provided value '{v}' is invalid."),
        ));
    }
}

fn normalize_location(location: &str) -> String {
    location
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase()
}

/// Validate a full cluster document. Returns every violation found.
pub fn validate(cluster: &ext::Cluster, ctx: &ValidationContext<'_>) -> Vec<ArmErrorDetail> {
    let mut errors = Vec::new();
    let f = &ctx.features;

    if let Some(id) = &cluster.id
        && !id.eq_ignore_ascii_case(ctx.resource_id)
    {
        errors.push(err(
            codes::MISMATCHING_RESOURCE_ID,
            "id",
            format!(
                "The provided resource ID '{id}' did not match the name in the Url '{}'.",
                ctx.resource_id
            ),
        ));
    }
    if let Some(name) = &cluster.name
        && !name.eq_ignore_ascii_case(ctx.resource_name)
    {
        errors.push(err(
            codes::MISMATCHING_RESOURCE_NAME,
            "name",
            format!(
                "The provided resource name '{name}' did not match the name in the Url '{}'.",
                ctx.resource_name
            ),
        ));
    }
    if let Some(type_) = &cluster.type_
        && !type_.eq_ignore_ascii_case(super::convert::RESOURCE_TYPE)
    {
        errors.push(err(
            codes::MISMATCHING_RESOURCE_TYPE,
            "type",
            format!(
                "The provided resource type '{type_}' did not match the name in the Url '{}'.",
                super::convert::RESOURCE_TYPE
            ),
        ));
    }
    match &cluster.location {
        Some(location) if normalize_location(location) == normalize_location(ctx.location) => {}
        other => errors.push(invalid(
            "location",
            format!(
                "The provided location '{}' is invalid.",
                other.as_deref().unwrap_or_default()
            ),
        )),
    }
    validate_tags(&mut errors, cluster);

    let default_props = ext::Properties::default();
    let props = cluster.properties.as_ref().unwrap_or(&default_props);

    validate_identities(&mut errors, cluster, props, ctx);

    if let Some(state) = &props.provisioning_state {
        let mut states = vec![
            "AdminUpdating",
            "Creating",
            "Deleting",
            "Failed",
            "Succeeded",
            "Updating",
        ];
        if f.canceled_state {
            states.push("Canceled");
        }
        if !states.contains(&state.as_str()) {
            errors.push(invalid(
                "properties.provisioningState",
                format!("The provided provisioning state '{state}' is invalid."),
            ));
        }
    }

    let cp = props.cluster_profile.clone().unwrap_or_default();
    validate_cluster_profile(&mut errors, &cp, ctx);

    if let Some(console) = &props.console_profile
        && let Some(url) = &console.url
        && !url.is_empty()
        && !is_url(url)
    {
        errors.push(invalid(
            "properties.consoleProfile.url",
            format!("The provided console URL '{url}' is invalid."),
        ));
    }

    if let Some(sp) = &props.service_principal_profile {
        let client_id = sp.client_id.clone().unwrap_or_default();
        if !is_uuid(&client_id) {
            errors.push(invalid(
                "properties.servicePrincipalProfile.clientId",
                format!("The provided client ID '{client_id}' is invalid."),
            ));
        }
        // On create the secret is required; on update an omitted secret keeps the stored one.
        if ctx.is_create
            && sp
                .client_secret
                .as_ref()
                .is_none_or(|s| s.expose().is_empty())
        {
            errors.push(invalid(
                "properties.servicePrincipalProfile.clientSecret",
                "The provided client secret is invalid.".to_string(),
            ));
        }
    }

    let np = props.network_profile.clone().unwrap_or_default();
    validate_network_profile(&mut errors, &np, props, ctx);

    let mp = props.master_profile.clone().unwrap_or_default();
    let version = cp.version.clone().unwrap_or_default();
    validate_master_profile(&mut errors, &mp, &version, ctx);

    if ctx.is_create {
        validate_worker_profiles(&mut errors, props, &mp, &version, ctx);
    }

    let visibilities = ["Private", "Public"];
    if let Some(api) = &props.apiserver_profile {
        check_enum(
            &mut errors,
            &api.visibility,
            &visibilities,
            "properties.apiserverProfile.visibility",
        );
        if let Some(url) = &api.url
            && !url.is_empty()
            && !is_url(url)
        {
            errors.push(invalid(
                "properties.apiserverProfile.url",
                format!("The provided URL '{url}' is invalid."),
            ));
        }
        if let Some(ip) = &api.ip
            && !ip.is_empty()
            && ip.parse::<Ipv4Addr>().is_err()
        {
            errors.push(invalid(
                "properties.apiserverProfile.ip",
                format!("The provided IP '{ip}' is invalid."),
            ));
        }
    } else {
        errors.push(invalid(
            "properties.apiserverProfile.visibility",
            "The provided visibility '' is invalid.".to_string(),
        ));
    }

    let ingress = props.ingress_profiles.clone().unwrap_or_default();
    for (i, profile) in ingress.iter().enumerate() {
        let base = format!("properties.ingressProfiles[{i}]");
        check_enum(
            &mut errors,
            &profile.visibility,
            &visibilities,
            &format!("{base}.visibility"),
        );
        if let Some(ip) = &profile.ip
            && !ip.is_empty()
            && ip.parse::<Ipv4Addr>().is_err()
        {
            errors.push(invalid(
                &format!("{base}.ip"),
                format!("The provided IP '{ip}' is invalid."),
            ));
        }
    }
    if ctx.is_create {
        if ingress.len() != 1 {
            errors.push(invalid(
                "properties.ingressProfiles",
                "There should be exactly one ingress profile.".to_string(),
            ));
        } else if ingress[0].name.as_deref() != Some("default") {
            errors.push(invalid(
                "properties.ingressProfiles[0].name",
                format!(
                    "The provided ingress name '{}' is invalid.",
                    ingress[0].name.as_deref().unwrap_or_default()
                ),
            ));
        }
        if props
            .worker_profiles_status
            .as_ref()
            .is_some_and(|s| !s.is_empty())
        {
            errors.push(invalid(
                "properties.workerProfilesStatus",
                "The field workerProfilesStatus is read only.".to_string(),
            ));
        }
    }
    errors
}

fn validate_tags(errors: &mut Vec<ArmErrorDetail>, cluster: &ext::Cluster) {
    let Some(tags) = &cluster.tags else { return };
    // ARM's own limits on tags (arm-rpc 13).
    if tags.len() > 50 {
        errors.push(invalid(
            "tags",
            "The provided tags are invalid: at most 50 tags are allowed.".to_string(),
        ));
    }
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > 512 {
            errors.push(invalid(
                "tags",
                format!("The provided tag name '{key}' is invalid."),
            ));
        }
        if value.chars().count() > 256 {
            errors.push(invalid(
                &format!("tags.{key}"),
                format!("The provided value of tag '{key}' is too long."),
            ));
        }
    }
}

fn validate_identities(
    errors: &mut Vec<ArmErrorDetail>,
    cluster: &ext::Cluster,
    props: &ext::Properties,
    ctx: &ValidationContext<'_>,
) {
    let sp = props.service_principal_profile.as_ref();
    let pwi = props.platform_workload_identity_profile.as_ref();
    if !ctx.features.workload_identity {
        if sp.is_none() {
            errors.push(invalid(
                "properties.servicePrincipalProfile",
                "The provided service principal profile is invalid.".to_string(),
            ));
        }
        return;
    }
    let has_sp_credentials = sp.is_some_and(|sp| {
        sp.client_id.as_deref().is_some_and(|c| !c.is_empty())
            || sp
                .client_secret
                .as_ref()
                .is_some_and(|c| !c.expose().is_empty())
    });
    match (sp, pwi) {
        (None, None) => errors.push(invalid(
            "properties.servicePrincipalProfile",
            "Must provide either an identity or service principal credentials.".to_string(),
        )),
        (Some(_), Some(_)) if has_sp_credentials => errors.push(invalid(
            "properties.servicePrincipalProfile",
            "Cannot use identities and service principal credentials at the same time.".to_string(),
        )),
        _ => {}
    }
    match (&cluster.identity, pwi) {
        (Some(_), None) => errors.push(invalid(
            "identity",
            "Cluster identity and platform workload identities require each other.".to_string(),
        )),
        (None, Some(_)) => errors.push(invalid(
            "identity",
            "Cluster identity and platform workload identities require each other.".to_string(),
        )),
        _ => {}
    }
    if let Some(identity) = &cluster.identity {
        if identity.type_.as_deref() != Some("UserAssigned") {
            errors.push(invalid(
                "identity.type",
                format!(
                    "The provided managed identity type '{}' is invalid.",
                    identity.type_.as_deref().unwrap_or_default()
                ),
            ));
        }
        let uais = identity
            .user_assigned_identities
            .clone()
            .unwrap_or_default();
        if uais.len() != 1 {
            errors.push(invalid(
                "identity.userAssignedIdentities",
                "The provided cluster identity is invalid; there should be exactly one user assigned identity.".to_string(),
            ));
        }
        for key in uais.keys() {
            if resource_id_of_type(key, USER_ASSIGNED_IDENTITY).is_none() {
                errors.push(invalid(
                    "identity.userAssignedIdentities",
                    format!("The provided user assigned identity '{key}' is invalid."),
                ));
            }
        }
    }
    if let Some(pwi) = pwi {
        let identities = pwi.platform_workload_identities.clone().unwrap_or_default();
        if identities.is_empty() {
            errors.push(invalid(
                "properties.platformWorkloadIdentityProfile.platformWorkloadIdentities",
                "The provided platform workload identities are invalid: at least one is required."
                    .to_string(),
            ));
        }
        let mut seen: Vec<String> = Vec::new();
        for (name, identity) in &identities {
            let target = format!(
                "properties.platformWorkloadIdentityProfile.platformWorkloadIdentities.{name}.resourceId"
            );
            let resource_id = identity.resource_id.clone().unwrap_or_default();
            if resource_id_of_type(&resource_id, USER_ASSIGNED_IDENTITY).is_none() {
                errors.push(invalid(
                    &target,
                    format!(
                        "ResourceID {resource_id} formatted incorrectly: must be a user assigned identity (Microsoft.ManagedIdentity/userAssignedIdentities)."
                    ),
                ));
            }
            let lower = resource_id.to_lowercase();
            if seen.contains(&lower) {
                errors.push(invalid(
                    &target,
                    format!("ResourceID {resource_id} used by multiple identities."),
                ));
            }
            seen.push(lower);
        }
        if let Some(to) = &pwi.upgradeable_to
            && !to.is_empty()
            && semver::Version::parse(to).is_err()
        {
            errors.push(invalid(
                "properties.platformWorkloadIdentityProfile.upgradeableTo",
                format!(
                    "UpgradeableTo must be a valid OpenShift version in the format 'x.y.z': '{to}'."
                ),
            ));
        }
    }
}

fn validate_cluster_profile(
    errors: &mut Vec<ArmErrorDetail>,
    cp: &ext::ClusterProfile,
    ctx: &ValidationContext<'_>,
) {
    if let Some(pull_secret) = &cp.pull_secret
        && !pull_secret.expose().is_empty()
    {
        let ok = serde_json::from_str::<serde_json::Value>(pull_secret.expose())
            .ok()
            .and_then(|v| v.get("auths").map(|a| a.is_object()))
            .unwrap_or(false);
        if !ok {
            errors.push(invalid(
                "properties.clusterProfile.pullSecret",
                "The provided pull secret is invalid.".to_string(),
            ));
        }
    }
    let domain = cp.domain.clone().unwrap_or_default();
    let domain_ok = if ctx.is_create {
        CREATE_DOMAIN.is_match(&domain)
    } else {
        RFC1123_DOMAIN.is_match(&domain)
    } && domain.len() <= 253;
    let managed_ok = match ctx.parent_domain {
        Some(parent) if domain.ends_with(&format!(".{parent}")) || domain == parent => {
            // A managed domain must be exactly <label>.<region>.<parent>.
            let prefix = domain.trim_end_matches(parent).trim_end_matches('.');
            let parts: Vec<&str> = prefix.split('.').collect();
            parts.len() == 2 && parts[1] == normalize_location(ctx.location) && !parts[0].is_empty()
        }
        _ => true,
    };
    if !domain_ok || !managed_ok {
        errors.push(invalid(
            "properties.clusterProfile.domain",
            format!("The provided domain '{domain}' is invalid."),
        ));
    }
    if let Some(version) = &cp.version
        && !version.is_empty()
        && semver::Version::parse(version).is_err()
    {
        errors.push(invalid(
            "properties.clusterProfile.version",
            format!("The provided version '{version}' is invalid."),
        ));
    }
    let rg_id = cp.resource_group_id.clone().unwrap_or_default();
    let target = "properties.clusterProfile.resourceGroupId";
    match RESOURCE_GROUP_ID.captures(&rg_id) {
        Some(c) if is_uuid(&c[1]) => {
            if !c[1].eq_ignore_ascii_case(ctx.subscription_id) {
                errors.push(invalid(
                    target,
                    format!("The provided resource group '{rg_id}' is invalid: must be in same subscription as cluster."),
                ));
            } else if c[2].eq_ignore_ascii_case(ctx.resource_group) {
                errors.push(invalid(
                    target,
                    format!("The provided resource group '{rg_id}' is invalid: must be different from resourceGroup of the OpenShift cluster object."),
                ));
            }
        }
        _ => errors.push(invalid(
            target,
            format!("The provided resource group '{rg_id}' is invalid."),
        )),
    }
    if ctx.features.fips {
        check_enum(
            errors,
            &cp.fips_validated_modules,
            &["Enabled", "Disabled"],
            "properties.clusterProfile.fipsValidatedModules",
        );
    }
}

fn is_url(value: &str) -> bool {
    value
        .parse::<http::Uri>()
        .map(|u| u.scheme().is_some() && u.host().is_some())
        .unwrap_or(false)
}

/// Reserved ranges a cluster network may not overlap (OVN-Kubernetes internals).
const RESERVED_RANGES: &[&str] = &["100.64.0.0/16", "169.254.169.0/29", "100.88.0.0/16"];

fn validate_cidr(
    errors: &mut Vec<ArmErrorDetail>,
    value: &Option<String>,
    max_prefix: u8,
    what: &str,
    target: &str,
    is_create: bool,
) {
    let value = value.clone().unwrap_or_default();
    let net: Ipv4Net = match value.parse() {
        Ok(net) => net,
        Err(_) => {
            errors.push(invalid(
                target,
                format!("The provided {what} CIDR '{value}' is invalid, expecting: IPv4 CIDR."),
            ));
            return;
        }
    };
    if net.addr() != net.network() {
        errors.push(err(
            codes::INVALID_NETWORK_ADDRESS,
            target,
            format!(
                "The provided {what} CIDR '{value}' is invalid, expecting: '{}'.",
                net.trunc()
            ),
        ));
    }
    if net.prefix_len() > max_prefix {
        errors.push(invalid(
            target,
            format!(
                "The provided {what} CIDR '{value}' is invalid: must be /{max_prefix} or larger."
            ),
        ));
    }
    if is_create {
        for reserved in RESERVED_RANGES {
            let reserved: Ipv4Net = reserved.parse().expect("valid reserved range");
            if reserved.contains(&net.network()) || net.contains(&reserved.network()) {
                errors.push(err(
                    codes::INVALID_CIDR_RANGE,
                    target,
                    format!("The provided {what} CIDR '{value}' is invalid: it overlaps the reserved range '{reserved}'."),
                ));
            }
        }
    }
}

fn validate_network_profile(
    errors: &mut Vec<ArmErrorDetail>,
    np: &ext::NetworkProfile,
    props: &ext::Properties,
    ctx: &ValidationContext<'_>,
) {
    let f = &ctx.features;
    validate_cidr(
        errors,
        &np.pod_cidr,
        18,
        "pod",
        "properties.networkProfile.podCidr",
        ctx.is_create,
    );
    validate_cidr(
        errors,
        &np.service_cidr,
        22,
        "service",
        "properties.networkProfile.serviceCidr",
        ctx.is_create,
    );
    if f.software_defined_network {
        check_enum(
            errors,
            &np.software_defined_network,
            &["OVNKubernetes", "OpenShiftSDN"],
            "properties.networkProfile.softwareDefinedNetwork",
        );
    }
    if f.preconfigured_nsg {
        check_enum(
            errors,
            &np.preconfigured_nsg,
            &["Enabled", "Disabled"],
            "properties.networkProfile.preconfiguredNSG",
        );
    }
    if f.outbound_type {
        check_enum(
            errors,
            &np.outbound_type,
            &["Loadbalancer", "UserDefinedRouting"],
            "properties.networkProfile.outboundType",
        );
        if np.outbound_type.as_deref() == Some("UserDefinedRouting") {
            let api_private = props
                .apiserver_profile
                .as_ref()
                .and_then(|a| a.visibility.as_deref())
                == Some("Private");
            let ingress_private = props
                .ingress_profiles
                .iter()
                .flatten()
                .all(|i| i.visibility.as_deref() == Some("Private"));
            if !api_private || !ingress_private {
                errors.push(invalid(
                    "properties.networkProfile.outboundType",
                    "The provided outboundType 'UserDefinedRouting' is invalid: cannot use UserDefinedRouting if either API Server Visibility or Ingress Visibility is public.".to_string(),
                ));
            }
            if np.load_balancer_profile.is_some() {
                errors.push(invalid(
                    "properties.networkProfile.loadBalancerProfile",
                    "The provided loadBalancerProfile is invalid: cannot use a load balancer profile if outboundType is UserDefinedRouting.".to_string(),
                ));
            }
        }
    }
    if f.load_balancer != LoadBalancerShape::Absent
        && let Some(lb) = &np.load_balancer_profile
    {
        let base = "properties.networkProfile.loadBalancerProfile";
        if let Some(managed) = &lb.managed_outbound_ips {
            let count = managed.count.unwrap_or_default();
            let max = if ctx.architecture_version == 1 { 1 } else { 20 };
            if !(1..=max).contains(&count) {
                let message = if max == 1 {
                    format!(
                        "The provided managedOutboundIps.count {count} is invalid: managedOutboundIps.count must be 1, multiple IPs are not supported for this cluster's network architecture."
                    )
                } else {
                    format!(
                        "The provided managedOutboundIps.count {count} is invalid: managedOutboundIps.count must be in the range of 1 to 20 (inclusive)."
                    )
                };
                errors.push(invalid(
                    &format!("{base}.managedOutboundIps.count"),
                    message,
                ));
            }
        }
        if ctx.is_create
            && lb
                .effective_outbound_ips
                .as_ref()
                .is_some_and(|e| !e.is_empty())
        {
            errors.push(invalid(
                &format!("{base}.effectiveOutboundIps"),
                "The field effectiveOutboundIps is read only.".to_string(),
            ));
        }
        if f.load_balancer == LoadBalancerShape::Full {
            if let Some(ports) = lb.allocated_outbound_ports
                && !(0..=64000).contains(&ports)
            {
                errors.push(invalid(
                    &format!("{base}.allocatedOutboundPorts"),
                    format!("The provided allocatedOutboundPorts {ports} is invalid."),
                ));
            }
            let given = [
                lb.managed_outbound_ips.is_some(),
                lb.outbound_ips.as_ref().is_some_and(|v| !v.is_empty()),
                lb.outbound_ip_prefixes
                    .as_ref()
                    .is_some_and(|v| !v.is_empty()),
            ];
            if given.iter().filter(|g| **g).count() > 1 {
                errors.push(invalid(
                    base,
                    "The provided loadBalancerProfile is invalid: can only use one of managedOutboundIps, outboundIps or outboundIpPrefixes.".to_string(),
                ));
            }
        }
    }
}

fn validate_master_profile(
    errors: &mut Vec<ArmErrorDetail>,
    mp: &ext::MasterProfile,
    version: &str,
    ctx: &ValidationContext<'_>,
) {
    let vm_size = mp.vm_size.clone().unwrap_or_default();
    if !master_size_valid(&vm_size, version) {
        errors.push(invalid(
            "properties.masterProfile.vmSize",
            format!("The provided master VM size '{vm_size}' is invalid."),
        ));
    }
    let subnet = mp.subnet_id.clone().unwrap_or_default();
    match resource_id_of_type(&subnet, SUBNET) {
        None => errors.push(invalid(
            "properties.masterProfile.subnetId",
            format!("The provided master VM subnet '{subnet}' is invalid."),
        )),
        Some(id) if !in_subscription(&id, ctx) => errors.push(invalid(
            "properties.masterProfile.subnetId",
            format!("The provided master VM subnet '{subnet}' is invalid: must be in same subscription as cluster."),
        )),
        _ => {}
    }
    if ctx.features.disk_encryption {
        check_enum(
            errors,
            &mp.encryption_at_host,
            &["Enabled", "Disabled"],
            "properties.masterProfile.encryptionAtHost",
        );
        if let Some(des) = &mp.disk_encryption_set_id
            && !des.is_empty()
        {
            match resource_id_of_type(des, DISK_ENCRYPTION_SET) {
                None => errors.push(invalid(
                    "properties.masterProfile.diskEncryptionSetId",
                    format!("The provided master disk encryption set '{des}' is invalid."),
                )),
                Some(id) if !in_subscription(&id, ctx) => {
                    errors.push(invalid(
                        "properties.masterProfile.diskEncryptionSetId",
                        format!("The provided master disk encryption set '{des}' is invalid: must be in same subscription as cluster."),
                    ))
                }
                _ => {}
            }
        }
    }
}

/// The id of a subnet's virtual network, lowercase (ARM ids compare case-insensitively).
fn vnet_of(subnet: &ResourceId) -> Option<String> {
    subnet.parent().map(|vnet| vnet.to_string().to_lowercase())
}

fn validate_worker_profiles(
    errors: &mut Vec<ArmErrorDetail>,
    props: &ext::Properties,
    mp: &ext::MasterProfile,
    version: &str,
    ctx: &ValidationContext<'_>,
) {
    let workers = props.worker_profiles.clone().unwrap_or_default();
    if workers.len() != 1 {
        errors.push(invalid(
            "properties.workerProfiles",
            "There should be exactly one worker profile.".to_string(),
        ));
        return;
    }
    let w = &workers[0];
    let base = "properties.workerProfiles[0]";
    let name = w.name.clone().unwrap_or_default();
    if name != "worker" {
        errors.push(invalid(
            &format!("{base}.name"),
            format!("The provided worker name '{name}' is invalid."),
        ));
    }
    let vm_size = w.vm_size.clone().unwrap_or_default();
    if !worker_size_valid(&vm_size, version, ctx.require_d2s_workers) {
        errors.push(invalid(
            &format!("{base}.vmSize"),
            format!("The provided worker VM size '{vm_size}' is invalid."),
        ));
    }
    let disk = w.disk_size_gb.unwrap_or_default();
    if disk < 128 {
        errors.push(invalid(
            &format!("{base}.diskSizeGB"),
            format!("The provided worker disk size '{disk}' is invalid."),
        ));
    }
    let count = w.count.unwrap_or_default();
    if !(2..=50).contains(&count) {
        errors.push(invalid(
            &format!("{base}.count"),
            format!("The provided worker count '{count}' is invalid."),
        ));
    }
    let subnet = w.subnet_id.clone().unwrap_or_default();
    let master_subnet = mp.subnet_id.clone().unwrap_or_default();
    match resource_id_of_type(&subnet, SUBNET) {
        None => errors.push(invalid(
            &format!("{base}.subnetId"),
            format!("The provided worker VM subnet '{subnet}' is invalid."),
        )),
        Some(id) if !in_subscription(&id, ctx) => errors.push(invalid(
            &format!("{base}.subnetId"),
            format!("The provided worker VM subnet '{subnet}' is invalid: must be in same subscription as cluster."),
        )),
        Some(id) => {
            if let Some(master) = resource_id_of_type(&master_subnet, SUBNET) {
                if vnet_of(&id) != vnet_of(&master) {
                    errors.push(invalid(
                        &format!("{base}.subnetId"),
                        format!("The provided worker VM subnet '{subnet}' is invalid: must be in the same vnet as master VM subnet '{master_subnet}'."),
                    ));
                } else if subnet.eq_ignore_ascii_case(&master_subnet) {
                    errors.push(invalid(
                        &format!("{base}.subnetId"),
                        format!("The provided worker VM subnet '{subnet}' is invalid: must be different to master VM subnet '{master_subnet}'."),
                    ));
                }
            }
        }
    }
    if ctx.features.disk_encryption {
        check_enum(
            errors,
            &w.encryption_at_host,
            &["Enabled", "Disabled"],
            &format!("{base}.encryptionAtHost"),
        );
        let worker_des = w.disk_encryption_set_id.clone().unwrap_or_default();
        let master_des = mp.disk_encryption_set_id.clone().unwrap_or_default();
        if !worker_des.eq_ignore_ascii_case(&master_des) {
            errors.push(invalid(
                &format!("{base}.diskEncryptionSetId"),
                format!("The provided worker disk encryption set '{worker_des}' is invalid: must be the same as master disk encryption set '{master_des}'."),
            ));
        }
    }
}

/// Fold validation errors into one ARM error: the error itself when there is one, else a
/// `MultipleErrorsOccurred` error listing them all in `details`.
pub fn to_arm_error(mut errors: Vec<ArmErrorDetail>) -> Option<crds::ArmError> {
    match errors.len() {
        0 => None,
        1 => {
            let e = errors.remove(0);
            Some(crds::ArmError {
                code: e.code,
                message: e.message,
                target: e.target,
                details: Vec::new(),
            })
        }
        n => Some(crds::ArmError {
            code: "MultipleErrorsOccurred".to_string(),
            message: format!("Content validation failed on {n} fields."),
            target: None,
            details: errors,
        }),
    }
}

#[cfg(test)]
mod resource_id_tests {
    use super::*;

    const VNET: &str =
        "/subscriptions/S/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v";

    #[test]
    fn ids_of_a_type_are_spelled_exactly() {
        let subnet = format!("{VNET}/subnets/master");
        assert!(resource_id_of_type(&subnet, SUBNET).is_some());
        // Keywords and type in any case.
        assert!(resource_id_of_type(&subnet.to_uppercase(), SUBNET).is_some());
        for wrong in [
            subnet.trim_start_matches('/').to_string(),
            format!("/{subnet}"),
            format!("{subnet}/"),
            format!("{VNET}/subnets/"),
            VNET.to_string(),
            format!("{subnet}/x/y"),
            subnet.replace("Microsoft.Network", "Microsoft.Compute"),
        ] {
            assert!(resource_id_of_type(&wrong, SUBNET).is_none(), "{wrong}");
        }
    }

    #[test]
    fn subnets_of_one_vnet_share_it_in_any_case() {
        let master = resource_id_of_type(&format!("{VNET}/subnets/master"), SUBNET).unwrap();
        let worker =
            resource_id_of_type(&format!("{}/subnets/worker", VNET.to_uppercase()), SUBNET)
                .unwrap();
        assert_eq!(vnet_of(&master), vnet_of(&worker));
        assert_eq!(vnet_of(&master), Some(VNET.to_lowercase()));
    }
}
