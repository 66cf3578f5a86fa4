//! Microsoft.ManagedIdentity: user-assigned identities (Azure assigns each a client id and a
//! principal id in the subscription's tenant, kept for the identity's life) and their federated
//! identity credentials (an issuer URL, a subject and exactly one audience; unique issuer and
//! subject per identity; at most [`MAX_FEDERATED_CREDENTIALS`] per identity). Both are answered at
//! once, as the service does; deleting an identity deletes its credentials with it.

use super::{Children, Context, ProviderRules, Put, TypeTraits};
use crate::error::ApiError;
use crate::path::key;
use serde_json::Value;

/// Type key of user-assigned identities.
pub const IDENTITY: &str = "microsoft.managedidentity/userassignedidentities";
/// Type key of federated identity credentials.
pub const FEDERATED_CREDENTIAL: &str =
    "microsoft.managedidentity/userassignedidentities/federatedidentitycredentials";
/// Azure's limit of federated identity credentials on one identity.
pub const MAX_FEDERATED_CREDENTIALS: usize = 20;

/// The rules of Microsoft.ManagedIdentity.
pub(crate) struct ManagedIdentity;

impl ProviderRules for ManagedIdentity {
    fn traits(&self, type_lower: &str) -> TypeTraits {
        TypeTraits {
            long_running: false,
            tracked: type_lower == IDENTITY,
            ..TypeTraits::default()
        }
    }

    fn prepare_put(
        &self,
        cx: &Context<'_>,
        put: &Put<'_>,
        body: &mut Value,
    ) -> Result<Children, ApiError> {
        if put.resource_type.eq_ignore_ascii_case(FEDERATED_CREDENTIAL) {
            check_federated_credential(cx, put, body)?;
        }
        Ok(Children::default())
    }

    fn complete(&self, put: &Put<'_>, stored: &mut Value) {
        if !put.resource_type.eq_ignore_ascii_case(IDENTITY) {
            return;
        }
        // The ids belong to the identity, not to the request: a PUT never changes them.
        let kept = |field: &str| {
            put.existing
                .and_then(|e| e.body["properties"][field].as_str())
                .map(str::to_string)
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
        };
        let props = &mut stored["properties"];
        props["clientId"] = kept("clientId").into();
        props["principalId"] = kept("principalId").into();
        props["tenantId"] = put.tenant_id.into();
    }
}

fn bad_request(message: String) -> ApiError {
    ApiError::bad_request("BadRequest", message)
}

/// An issuer Azure accepts: an `https` URL without query or fragment. Plain `http` is accepted for
/// loopback hosts only, so an emulator without TLS can serve the issuer it names.
pub fn issuer_is_valid(issuer: &str) -> bool {
    let (scheme, rest) = match issuer.split_once("://") {
        Some(parts) => parts,
        None => return false,
    };
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    let scheme_ok = scheme.eq_ignore_ascii_case("https")
        || (scheme.eq_ignore_ascii_case("http")
            && matches!(host, "127.0.0.1" | "localhost" | "[::1]"));
    scheme_ok && !host.is_empty() && !issuer.contains(['?', '#', ' '])
}

fn check_federated_credential(
    cx: &Context<'_>,
    put: &Put<'_>,
    body: &Value,
) -> Result<(), ApiError> {
    let props = &body["properties"];
    let issuer = props["issuer"].as_str().unwrap_or_default();
    if !issuer_is_valid(issuer) {
        return Err(bad_request(format!(
            "Invalid issuer '{issuer}': the issuer must be an https URL without query or fragment."
        )));
    }
    let subject = props["subject"].as_str().unwrap_or_default();
    if subject.trim().is_empty() {
        return Err(bad_request(
            "The subject of a federated identity credential is required.".into(),
        ));
    }
    let audiences = props["audiences"].as_array().cloned().unwrap_or_default();
    if audiences.len() != 1 || audiences[0].as_str().is_none_or(str::is_empty) {
        return Err(bad_request(
            "A federated identity credential needs exactly one audience.".into(),
        ));
    }
    let identity = put.path.id_of(put.path.segments.len() - 1);
    let own = key(put.id);
    let siblings: Vec<&Value> = cx
        .resources
        .within(&key(&identity))
        .filter(|(k, r)| **k != own && r.type_lower() == FEDERATED_CREDENTIAL)
        .map(|(_, r)| &r.body["properties"])
        .collect();
    if siblings
        .iter()
        .any(|s| s["issuer"].as_str() == Some(issuer) && s["subject"].as_str() == Some(subject))
    {
        return Err(bad_request(format!(
            "A federated identity credential with issuer '{issuer}' and subject '{subject}' already exists on this identity."
        )));
    }
    if put.existing.is_none() && siblings.len() >= MAX_FEDERATED_CREDENTIALS {
        return Err(bad_request(format!(
            "The identity already has {MAX_FEDERATED_CREDENTIALS} federated identity credentials, the most it may have."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_are_https_urls_or_loopback_http() {
        assert!(issuer_is_valid("https://oidc.example.com/tenant/cluster"));
        assert!(issuer_is_valid("http://127.0.0.1:8443/_web/oidc/t/c"));
        assert!(!issuer_is_valid("http://oidc.example.com/x"));
        assert!(!issuer_is_valid("https://oidc.example.com/x?y=1"));
        assert!(!issuer_is_valid("oidc.example.com"));
        assert!(!issuer_is_valid(""));
        assert!(!issuer_is_valid("https:///x"));
    }

    #[test]
    fn identities_are_tracked_credentials_are_not_and_both_are_synchronous() {
        let identity = ManagedIdentity.traits(IDENTITY);
        assert!(identity.tracked && !identity.long_running);
        let credential = ManagedIdentity.traits(FEDERATED_CREDENTIAL);
        assert!(!credential.tracked && !credential.long_running);
    }
}
