//! Configuration: principals, fault injection, seeds and the emulator's settings.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// A service principal the token endpoint knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    /// Application (client) id.
    pub client_id: String,
    /// Client secret accepted by the client credentials grant.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "aro_common::secret::serialize_exposed_option"
    )]
    pub client_secret: Option<aro_common::Secret>,
    /// Federated token accepted as `client_assertion` (workload identity); opaque, compared as is.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "aro_common::secret::serialize_exposed_option"
    )]
    pub federated_token: Option<aro_common::Secret>,
    /// Object id that role assignments name in `principalId`.
    pub object_id: String,
    /// Tenant the principal belongs to; `None` accepts any tenant in the token path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// A restricted principal may only do what its role assignments allow; an unrestricted one
    /// (the default) may do everything.
    #[serde(default)]
    pub restricted: bool,
}

/// The kind of ARM operation a request is, for fault rules and the request log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    /// GET and HEAD.
    Read,
    /// PUT and PATCH.
    Write,
    /// DELETE.
    Delete,
    /// POST.
    Action,
}

impl OpType {
    /// The operation type of an HTTP method.
    pub fn of(method: &http::Method) -> Self {
        match *method {
            http::Method::PUT | http::Method::PATCH => Self::Write,
            http::Method::DELETE => Self::Delete,
            http::Method::POST => Self::Action,
            _ => Self::Read,
        }
    }
}

/// One fault rule; every matching rule adds its latency, the first that fires decides the error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// Operation types the rule applies to; empty means all.
    #[serde(default)]
    pub operations: Vec<OpType>,
    /// Only requests whose path contains this (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_contains: Option<String>,
    /// Latency added to every matching request, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    /// Fraction (0..=1) of matching requests answered with `error_status`.
    #[serde(default)]
    pub error_rate: f64,
    /// 500 or 503.
    #[serde(default = "default_error_status")]
    pub error_status: u16,
    /// Fraction (0..=1) of matching requests answered 429 with Retry-After.
    #[serde(default)]
    pub throttle_rate: f64,
    /// `Retry-After` seconds on 429 and 503 answers.
    #[serde(default = "default_retry_after")]
    pub retry_after_secs: u64,
    /// When true, an injected error is sent *after* the request took effect (the answer is lost),
    /// which is what makes non-idempotent clients create duplicates.
    #[serde(default)]
    pub after_processing: bool,
    /// Fraction (0..=1) of long-running operations started by matching requests that end
    /// Failed (the request itself is accepted).
    #[serde(default)]
    pub operation_failure_rate: f64,
    /// Stop injecting errors after this many (latency still applies); `None` means no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_faults: Option<u64>,
}

fn default_error_status() -> u16 {
    500
}

fn default_retry_after() -> u64 {
    1
}

impl Default for FaultRule {
    fn default() -> Self {
        Self {
            operations: Vec::new(),
            path_contains: None,
            latency_ms: 0,
            error_rate: 0.0,
            error_status: default_error_status(),
            throttle_rate: 0.0,
            retry_after_secs: default_retry_after(),
            after_processing: false,
            operation_failure_rate: 0.0,
            max_faults: None,
        }
    }
}

impl FaultRule {
    /// Checks rates and statuses.
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("errorRate", self.error_rate),
            ("throttleRate", self.throttle_rate),
            ("operationFailureRate", self.operation_failure_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, got {rate}"));
            }
        }
        if self.error_rate + self.throttle_rate > 1.0 {
            return Err("errorRate + throttleRate must not exceed 1".into());
        }
        if !matches!(self.error_status, 500 | 502 | 503 | 504) {
            return Err(format!(
                "errorStatus must be 500, 502, 503 or 504, got {}",
                self.error_status
            ));
        }
        Ok(())
    }

    /// Whether the rule applies to a request.
    pub fn matches(&self, op: OpType, path: &str) -> bool {
        (self.operations.is_empty() || self.operations.contains(&op))
            && self
                .path_contains
                .as_ref()
                .is_none_or(|p| path.to_ascii_lowercase().contains(&p.to_ascii_lowercase()))
    }
}

/// Fault injection settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultConfig {
    /// Rules, applied in order.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
    /// Seed of the random generator deciding which requests fail (reproducible runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl FaultConfig {
    /// Checks every rule.
    pub fn validate(&self) -> Result<(), String> {
        self.rules.iter().try_for_each(FaultRule::validate)
    }
}

/// A resource to pre-create.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedResource {
    /// Full ARM id (resource groups included).
    pub id: String,
    /// The PUT body.
    #[serde(default)]
    pub body: Value,
}

/// Provider registration state to seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderRegistration {
    /// Subscription id.
    pub subscription: String,
    /// Namespace, e.g. `Microsoft.Network`.
    pub namespace: String,
    /// `Registered`, `NotRegistered`, `Registering` or `Unregistering`.
    pub registration_state: String,
}

/// A restriction on a SKU, as seeded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkuRestriction {
    /// SKU name, e.g. `Standard_D8s_v3`.
    pub name: String,
    /// Location the restriction applies to.
    pub location: String,
    /// Zones restricted (a `Zone` restriction); empty means the whole location.
    #[serde(default)]
    pub zones: Vec<String>,
    /// Azure's reason code.
    #[serde(default = "default_reason")]
    pub reason_code: String,
}

fn default_reason() -> String {
    "NotAvailableForSubscription".into()
}

/// A seed document (JSON or YAML): principals, resources in creation order, provider states,
/// SKU restrictions and quota limits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    /// Principals added to the token endpoint.
    #[serde(default)]
    pub principals: Vec<Principal>,
    /// Resources created (Succeeded) in order; parents first.
    #[serde(default)]
    pub resources: Vec<SeedResource>,
    /// Provider registration states.
    #[serde(default)]
    pub providers: Vec<ProviderRegistration>,
    /// Restricted VM sizes.
    #[serde(default)]
    pub sku_restrictions: Vec<SkuRestriction>,
    /// Quota limits by usage name (`cores`, `standardDSv3Family`, `PublicIPAddresses`, ...).
    #[serde(default)]
    pub quotas: BTreeMap<String, u64>,
}

impl Seed {
    /// Parses a JSON or YAML seed document (YAML is a superset of JSON).
    pub fn parse(text: &str) -> Result<Self, crate::Error> {
        serde_yaml::from_str(text).map_err(|e| crate::Error::SeedParse(e.to_string()))
    }
}

/// Everything the emulator needs to start.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// How long an accepted long-running operation stays in progress.
    pub lro_delay: Duration,
    /// `Retry-After` seconds sent on in-progress long-running operations.
    pub lro_retry_after_secs: u64,
    /// Token lifetime reported in `expires_in`.
    pub token_lifetime: Duration,
    /// Principals known at start.
    pub principals: Vec<Principal>,
    /// Fault injection at start.
    pub faults: FaultConfig,
    /// Seeds applied at start, in order.
    pub seeds: Vec<Seed>,
    /// Locations offered (SKUs, usages).
    pub locations: Vec<String>,
    /// Known subscriptions; empty means every subscription id exists.
    pub subscriptions: Vec<String>,
    /// Tenant reported for subscriptions.
    pub tenant_id: String,
    /// Serve HTTPS with a generated CA (see `EmulatorHandle::ca_pem`) instead of HTTP.
    pub tls: bool,
    /// Most access tokens remembered; issuing one more forgets the oldest (which then stops
    /// working, as if it had expired). Expired tokens are forgotten too.
    pub max_tokens: usize,
    /// Most entries of the request log; the oldest drop first.
    pub max_logged_requests: usize,
}

/// Default of [`EmulatorConfig::max_tokens`].
pub const DEFAULT_MAX_TOKENS: usize = 10_000;
/// Default of [`EmulatorConfig::max_logged_requests`].
pub const DEFAULT_MAX_LOGGED_REQUESTS: usize = 10_000;

/// Tenant id used when none is configured.
pub const DEFAULT_TENANT: &str = "00000000-0000-0000-0000-00000000aaaa";

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            lro_delay: Duration::from_millis(50),
            lro_retry_after_secs: 0,
            token_lifetime: Duration::from_secs(3599),
            principals: Vec::new(),
            faults: FaultConfig::default(),
            seeds: Vec::new(),
            locations: ["eastus", "eastus2", "westus2", "westeurope", "centralus"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            subscriptions: Vec::new(),
            tenant_id: DEFAULT_TENANT.into(),
            tls: false,
            max_tokens: DEFAULT_MAX_TOKENS,
            max_logged_requests: DEFAULT_MAX_LOGGED_REQUESTS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_rules_validate_rates() {
        let mut r = FaultRule {
            error_rate: 0.1,
            throttle_rate: 0.1,
            ..Default::default()
        };
        assert!(r.validate().is_ok());
        r.error_rate = 1.5;
        assert!(r.validate().is_err());
        r.error_rate = 0.5;
        r.error_status = 404;
        assert!(r.validate().is_err());
    }

    #[test]
    fn fault_rules_match_operations_and_paths() {
        let r = FaultRule {
            operations: vec![OpType::Write],
            path_contains: Some("virtualNetworks".into()),
            ..Default::default()
        };
        assert!(r.matches(OpType::Write, "/subscriptions/s/x/virtualnetworks/v"));
        assert!(!r.matches(OpType::Read, "/subscriptions/s/x/virtualnetworks/v"));
        assert!(!r.matches(OpType::Write, "/subscriptions/s/x/routeTables/r"));
    }

    #[test]
    fn seeds_parse_from_yaml_and_json() {
        let yaml = "principals:\n- clientId: a\n  clientSecret: b\n  objectId: c\nresources:\n- id: /subscriptions/s/resourceGroups/rg\n  body: {location: eastus}\n";
        let s = Seed::parse(yaml).unwrap();
        assert_eq!(s.principals[0].client_id, "a");
        assert_eq!(s.resources[0].body["location"], "eastus");
        let json = r#"{"quotas": {"cores": 10}}"#;
        assert_eq!(Seed::parse(json).unwrap().quotas["cores"], 10);
        assert!(Seed::parse("unknownField: 1").is_err());
    }
}
