//! Checks of a workload identity cluster that need the RP's configuration: its platform workload
//! identities against the role sets of its OpenShift minor version (and of `upgradeableTo`'s), and
//! the managed identity headers ARM sends on create.

use crate::error::Error;
use axum::http::{HeaderMap, StatusCode};
use crds::management::{
    ManagedServiceIdentity, OpenShiftClusterSpec, PlatformWorkloadIdentityRoleSetSpec,
};
use std::collections::BTreeSet;

/// Header ARM sends with the data-plane URL of the cluster's managed identity.
pub const IDENTITY_URL_HEADER: &str = "x-ms-identity-url";
/// Header ARM sends with the home tenant of the cluster's managed identity.
pub const HOME_TENANT_HEADER: &str = "x-ms-home-tenant-id";

/// Header ARM sends with the tenant of the caller (recorded on operations).
pub const CLIENT_TENANT_HEADER: &str = "x-ms-client-tenant-id";

/// Identity host of public Azure: managed identity data-plane URLs are `https://*.identity.azure.net/...`.
pub const DEFAULT_IDENTITY_HOST_SUFFIX: &str = "identity.azure.net";
/// Longest identity URL accepted.
pub const MAX_IDENTITY_URL_LEN: usize = 2048;
/// Length of a tenant id (a GUID in its hyphenated form).
const GUID_LEN: usize = 36;

/// What a development frontend fills in when ARM's identity headers are absent (ARO's local
/// development mode does the same with its mock MSI middleware).
pub const MOCK_IDENTITY_URL: &str = "https://bogus.identity.azure.net/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg/providers/Microsoft.ApiManagement/service/test/credentials";
/// Home tenant filled in by a development frontend.
pub const MOCK_HOME_TENANT: &str = "00000000-0000-0000-0000-000000000000";

/// Target ARO reports mismatches with (its internal field path, kept as ARO spells it).
const MISMATCH_TARGET: &str =
    "properties.PlatformWorkloadIdentityProfile.PlatformWorkloadIdentities";

/// `X.Y` of an `X.Y.Z` version.
fn minor(version: &semver::Version) -> String {
    format!("{}.{}", version.major, version.minor)
}

/// The minor versions whose role sets the cluster's identities must cover: its own, and
/// `upgradeableTo`'s when that is a later minor.
fn required_minors(spec: &OpenShiftClusterSpec) -> Result<Vec<String>, Error> {
    let invalid_version = |what: &str, value: &str| {
        Error::arm_target(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            what,
            format!("The requested OpenShift version '{value}' is invalid."),
        )
    };
    let current = semver::Version::parse(&spec.cluster_profile.version).map_err(|_| {
        invalid_version(
            "properties.clusterProfile.version",
            &spec.cluster_profile.version,
        )
    })?;
    let mut minors = vec![minor(&current)];
    if let Some(to) = spec
        .platform_workload_identity_profile
        .as_ref()
        .and_then(|p| p.upgradeable_to.as_deref())
    {
        let upgradeable = semver::Version::parse(to).map_err(|_| {
            invalid_version(
                "properties.platformWorkloadIdentityProfile.upgradeableTo",
                to,
            )
        })?;
        if minor(&upgradeable) != minors[0] && current < upgradeable {
            minors.push(minor(&upgradeable));
        }
    }
    Ok(minors)
}

/// Whether the cluster's platform workload identities are exactly the operators of the role sets
/// of its required minor versions (ARO: same count, every identity named by a role). `None` for a
/// service principal cluster.
pub fn check_identities(
    spec: &OpenShiftClusterSpec,
    role_sets: &[PlatformWorkloadIdentityRoleSetSpec],
) -> Result<(), Error> {
    let Some(profile) = spec.platform_workload_identity_profile.as_ref() else {
        return Ok(());
    };
    let minors = required_minors(spec)?;
    let mut required = BTreeSet::new();
    for m in &minors {
        let set = role_sets.iter().find(|s| &s.open_shift_version == m).ok_or_else(|| {
            Error::arm(
                StatusCode::BAD_REQUEST,
                "InvalidParameter",
                format!(
                    "No PlatformWorkloadIdentityRoleSet found for the requested or upgradeable OpenShift minor version '{m}'. Please retry with different OpenShift version, and if the issue persists, raise an Azure support ticket"
                ),
            )
        })?;
        required.extend(
            set.platform_workload_identity_roles
                .iter()
                .map(|r| r.operator_name.clone()),
        );
    }
    let given = &profile.platform_workload_identities;
    if given.len() == required.len() && given.keys().all(|k| required.contains(k)) {
        return Ok(());
    }
    Err(Error::arm_target(
        StatusCode::BAD_REQUEST,
        "PlatformWorkloadIdentityMismatch",
        MISMATCH_TARGET,
        format!(
            "There's a mismatch between the required and expected set of platform workload identities for the requested OpenShift minor version '{}'. The required platform workload identities are '[{}]'",
            minors.join(" or "),
            required.into_iter().collect::<Vec<_>>().join(" ")
        ),
    ))
}

/// Records ARM's managed identity headers on the identity of a workload identity cluster being
/// created: both are required (ARM always sends them); `mock` fills in development values instead
/// of refusing. An update keeps what the create recorded (as ARO-RP: the cluster's managed identity
/// cannot change after creation).
pub fn record_identity_headers(
    identity: &mut ManagedServiceIdentity,
    headers: &HeaderMap,
    is_create: bool,
    mock: bool,
) -> Result<(), Error> {
    if !is_create {
        return Ok(());
    }
    let required = |name: &str, mock_value: &str, what: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .or_else(|| mock.then(|| mock_value.to_string()))
            .ok_or_else(|| {
                Error::arm(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestContent",
                    format!(
                        "The {what} of the cluster's managed identity is required for a workload identity cluster: ARM sends it in the '{name}' header, which the request lacks."
                    ),
                )
            })
    };
    let url = required(IDENTITY_URL_HEADER, MOCK_IDENTITY_URL, "identity URL")?;
    let tenant = required(HOME_TENANT_HEADER, MOCK_HOME_TENANT, "identity tenant ID")?;
    identity.identity_url = Some(url);
    identity.tenant_id = Some(tenant);
    Ok(())
}

/// Why `url` is not a managed identity URL under `host_suffix`, if it is not one: https, a host
/// that is a subdomain of the suffix, no user info, the default port.
fn identity_url_problem(url: &str, host_suffix: &str) -> Option<&'static str> {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return Some("is not a URL");
    };
    if uri.scheme_str() != Some("https") {
        return Some("must be an https URL");
    }
    let Some(authority) = uri.authority() else {
        return Some("has no host");
    };
    if authority.as_str().contains('@') || authority.port_u16().is_some_and(|p| p != 443) {
        return Some("must name its host only");
    }
    let host = authority.host().to_ascii_lowercase();
    let suffix = host_suffix.trim_start_matches('.').to_ascii_lowercase();
    let under = host
        .strip_suffix(&suffix)
        .and_then(|label| label.strip_suffix('.'))
        .is_some_and(|label| !label.is_empty());
    if !under {
        return Some("must be under the cloud's identity host");
    }
    None
}

/// The identity and tenant headers ARM sends, checked before anything reads them: the identity
/// URL (`x-ms-identity-url`) an https URL under the cloud's identity host (`host_suffix`, e.g.
/// `identity.azure.net`) of at most 2 KiB, the tenant ids (`x-ms-home-tenant-id`,
/// `x-ms-client-tenant-id`) GUIDs, each sent at most once. The RP later calls the identity URL
/// with its own credential and records the tenants, so a forged value must not get that far.
/// Empty values count as absent (the create's own check asks for them).
pub fn check_identity_headers(headers: &HeaderMap, host_suffix: &str) -> Result<(), Error> {
    let invalid = |name: &str, why: String| {
        Error::arm_target(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            name,
            format!("The '{name}' header is invalid: {why}."),
        )
    };
    for (name, max_len) in [
        (IDENTITY_URL_HEADER, MAX_IDENTITY_URL_LEN),
        (HOME_TENANT_HEADER, GUID_LEN),
        (CLIENT_TENANT_HEADER, GUID_LEN),
    ] {
        let mut values = headers.get_all(name).iter();
        let Some(raw) = values.next() else {
            continue;
        };
        if values.next().is_some() {
            return Err(invalid(name, "it must be sent once".into()));
        }
        if raw.len() > max_len {
            return Err(invalid(
                name,
                format!("it is longer than {max_len} characters"),
            ));
        }
        let Ok(value) = raw.to_str() else {
            return Err(invalid(name, "it is not visible ASCII".into()));
        };
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if name == IDENTITY_URL_HEADER {
            if let Some(why) = identity_url_problem(value, host_suffix) {
                return Err(invalid(
                    name,
                    format!("the identity URL {why} (https://*.{host_suffix})"),
                ));
            }
        } else if !crate::api::validate::is_uuid(value) {
            return Err(invalid(name, "a tenant id must be a GUID".into()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::management::{
        PlatformWorkloadIdentity, PlatformWorkloadIdentityProfile, PlatformWorkloadIdentityRole,
    };

    fn role_set(minor: &str, operators: &[&str]) -> PlatformWorkloadIdentityRoleSetSpec {
        PlatformWorkloadIdentityRoleSetSpec {
            open_shift_version: minor.into(),
            platform_workload_identity_roles: operators
                .iter()
                .map(|o| PlatformWorkloadIdentityRole {
                    operator_name: (*o).into(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    fn wi_spec(
        version: &str,
        identities: &[&str],
        upgradeable_to: Option<&str>,
    ) -> OpenShiftClusterSpec {
        let mut spec = OpenShiftClusterSpec::default();
        spec.cluster_profile.version = version.into();
        spec.platform_workload_identity_profile = Some(PlatformWorkloadIdentityProfile {
            platform_workload_identities: identities
                .iter()
                .map(|i| ((*i).to_string(), PlatformWorkloadIdentity::default()))
                .collect(),
            upgradeable_to: upgradeable_to.map(str::to_string),
        });
        spec
    }

    fn code_and_message(result: Result<(), Error>) -> (String, String) {
        match result {
            Err(Error::Arm { error, .. }) => (error.code.clone(), error.message.clone()),
            other => panic!("expected an ARM error, got {other:?}"),
        }
    }

    #[test]
    fn identities_matching_the_role_set_pass_and_service_principal_clusters_are_not_checked() {
        let sets = [role_set("4.15", &["A", "B"])];
        assert!(check_identities(&wi_spec("4.15.35", &["B", "A"], None), &sets).is_ok());
        assert!(check_identities(&OpenShiftClusterSpec::default(), &[]).is_ok());
    }

    #[test]
    fn a_missing_or_extra_identity_is_a_mismatch_naming_the_required_ones() {
        let sets = [role_set("4.15", &["B", "A"])];
        for identities in [&["A"][..], &["A", "B", "C"], &["A", "C"]] {
            let (code, message) = code_and_message(check_identities(
                &wi_spec("4.15.35", identities, None),
                &sets,
            ));
            assert_eq!(code, "PlatformWorkloadIdentityMismatch");
            assert!(message.contains("minor version '4.15'"), "{message}");
            assert!(message.ends_with("are '[A B]'"), "{message}");
        }
    }

    #[test]
    fn upgradeable_to_a_later_minor_adds_its_role_set() {
        let sets = [role_set("4.15", &["A"]), role_set("4.16", &["A", "N"])];
        assert!(check_identities(&wi_spec("4.15.35", &["A", "N"], Some("4.16.2")), &sets).is_ok());
        let (code, message) = code_and_message(check_identities(
            &wi_spec("4.15.35", &["A"], Some("4.16.2")),
            &sets,
        ));
        assert_eq!(code, "PlatformWorkloadIdentityMismatch");
        assert!(message.contains("'4.15 or 4.16'"), "{message}");
        // The same minor, or an older version, adds nothing.
        assert!(check_identities(&wi_spec("4.15.35", &["A"], Some("4.15.40")), &sets).is_ok());
        assert!(check_identities(&wi_spec("4.16.2", &["A", "N"], Some("4.15.40")), &sets).is_ok());
    }

    #[test]
    fn a_minor_without_role_set_is_invalid_parameter() {
        let (code, message) = code_and_message(check_identities(
            &wi_spec("4.17.1", &["A"], None),
            &[role_set("4.15", &["A"])],
        ));
        assert_eq!(code, "InvalidParameter");
        assert!(message.contains("minor version '4.17'"), "{message}");
    }

    fn checked(pairs: &[(&str, &str)], suffix: &str) -> Result<(), (String, String)> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                axum::http::HeaderValue::from_str(value).unwrap(),
            );
        }
        check_identity_headers(&headers, suffix).map_err(|e| match e {
            Error::Arm { error, .. } => {
                (error.code.clone(), error.target.clone().unwrap_or_default())
            }
            other => panic!("expected an ARM error, got {other:?}"),
        })
    }

    #[test]
    fn identity_urls_must_be_https_under_the_identity_host() {
        let ok = |url: &str| checked(&[(IDENTITY_URL_HEADER, url)], DEFAULT_IDENTITY_HOST_SUFFIX);
        assert!(ok("https://bogus.identity.azure.net/subscriptions/s/credentials?tid=t").is_ok());
        assert!(ok("https://A.B.Identity.Azure.NET:443/x").is_ok());
        for bad in [
            "http://x.identity.azure.net/",
            "https://identity.azure.net/",
            "https://evil-identity.azure.net/",
            "https://x.identity.azure.net.evil.com/",
            "https://user@x.identity.azure.net/",
            "https://x.identity.azure.net:8443/",
            "https://169.254.169.254/metadata",
            "/relative",
            "not a url",
        ] {
            assert_eq!(
                ok(bad),
                Err(("InvalidRequestContent".into(), IDENTITY_URL_HEADER.into())),
                "{bad}"
            );
        }
        let long = format!(
            "https://x.identity.azure.net/{}",
            "a".repeat(MAX_IDENTITY_URL_LEN)
        );
        assert!(ok(&long).is_err());
        // Another cloud's identity host, when configured.
        assert!(
            checked(
                &[(IDENTITY_URL_HEADER, "https://x.identity.usgovcloudapi.net/")],
                "identity.usgovcloudapi.net"
            )
            .is_ok()
        );
    }

    #[test]
    fn tenant_headers_must_be_single_guids() {
        for header in [HOME_TENANT_HEADER, CLIENT_TENANT_HEADER] {
            let ok = |v: &str| checked(&[(header, v)], DEFAULT_IDENTITY_HOST_SUFFIX);
            assert!(ok("22222222-2222-4222-8222-22222222222A").is_ok());
            for bad in [
                "tenant",
                "22222222222242228222222222222222",
                "{22222222-2222-4222-8222-222222222222}",
                "22222222-2222-4222-8222-2222222222222",
                "2222222g-2222-4222-8222-222222222222",
            ] {
                assert_eq!(
                    ok(bad),
                    Err(("InvalidRequestContent".into(), header.into())),
                    "{header}: {bad}"
                );
            }
            let twice = [
                (header, "22222222-2222-4222-8222-222222222222"),
                (header, "33333333-2222-4222-8222-222222222222"),
            ];
            assert!(checked(&twice, DEFAULT_IDENTITY_HOST_SUFFIX).is_err());
        }
        assert!(checked(&[], DEFAULT_IDENTITY_HOST_SUFFIX).is_ok());
    }

    #[test]
    fn the_development_placeholders_pass_the_checks() {
        assert!(
            checked(
                &[
                    (IDENTITY_URL_HEADER, MOCK_IDENTITY_URL),
                    (HOME_TENANT_HEADER, MOCK_HOME_TENANT)
                ],
                DEFAULT_IDENTITY_HOST_SUFFIX
            )
            .is_ok()
        );
    }

    #[test]
    fn identity_headers_are_required_on_create_unless_mocked() {
        let mut headers = HeaderMap::new();
        let mut identity = ManagedServiceIdentity::default();
        let (code, message) = code_and_message(record_identity_headers(
            &mut identity,
            &headers,
            true,
            false,
        ));
        assert_eq!(code, "InvalidRequestContent");
        assert!(message.contains(IDENTITY_URL_HEADER), "{message}");
        // An update neither needs nor records them.
        assert!(record_identity_headers(&mut identity, &headers, false, false).is_ok());
        let mut given = HeaderMap::new();
        given.insert(
            IDENTITY_URL_HEADER,
            "https://id.example/new".parse().unwrap(),
        );
        record_identity_headers(&mut identity, &given, false, false).unwrap();
        assert_eq!(identity.identity_url, None);

        headers.insert(IDENTITY_URL_HEADER, "https://id.example/x".parse().unwrap());
        let (_, message) = code_and_message(record_identity_headers(
            &mut identity,
            &headers,
            true,
            false,
        ));
        assert!(message.contains(HOME_TENANT_HEADER), "{message}");
        headers.insert(HOME_TENANT_HEADER, "tenant".parse().unwrap());
        record_identity_headers(&mut identity, &headers, true, false).unwrap();
        assert_eq!(
            identity.identity_url.as_deref(),
            Some("https://id.example/x")
        );
        assert_eq!(identity.tenant_id.as_deref(), Some("tenant"));

        let mut mocked = ManagedServiceIdentity::default();
        record_identity_headers(&mut mocked, &HeaderMap::new(), true, true).unwrap();
        assert_eq!(mocked.identity_url.as_deref(), Some(MOCK_IDENTITY_URL));
        assert_eq!(mocked.tenant_id.as_deref(), Some(MOCK_HOME_TENANT));
    }
}
