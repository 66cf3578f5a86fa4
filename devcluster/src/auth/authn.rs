//! Authentication as kube-apiserver chains it: the verified client certificate, then bearer
//! tokens (the admin token, `--token-auth-file`'s static tokens, ServiceAccount tokens); a
//! request without credentials is the anonymous user, a request with a bad token is 401. Also
//! the API built on it: `TokenRequest` (serviceaccounts/token), `TokenReview` and the issuer's
//! discovery documents (`/.well-known/openid-configuration`, `/openid/v1/jwks`).

use std::sync::Arc;

use serde_json::{Value, json};

use super::service_accounts::{
    BoundKind, ObjectLookup, ObjectRef, ServiceAccountTokens, TokenSpec, Verdict,
};
use super::token_file::StaticTokens;
use super::{UserInfo, token_matches};
use crate::error::{ApiError, Cause};
use crate::storage::Store;

/// kube-apiserver's anonymous user and its group.
pub const ANONYMOUS_USER: &str = "system:anonymous";
pub const SYSTEM_UNAUTHENTICATED: &str = "system:unauthenticated";

/// TokenRequest's default and least `expirationSeconds`, and its largest (2^32).
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
pub const MIN_EXPIRATION_SECONDS: i64 = 600;
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

const AUTHENTICATION_GROUP: &str = "authentication.k8s.io";
const AUTHENTICATION_V1: &str = "authentication.k8s.io/v1";

/// The anonymous user (kube-apiserver's `--anonymous-auth`, on by default).
pub fn anonymous() -> UserInfo {
    UserInfo::new(ANONYMOUS_USER, vec![SYSTEM_UNAUTHENTICATED.into()])
}

/// Objects read from the store (ServiceAccount token validation).
impl ObjectLookup for Store {
    fn object(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        self.get(&format!("/{resource}/{namespace}/{name}"))
            .map(|s| s.value())
    }
}

/// Who a bearer token is and for which audiences; `Err` with kube's reason when a token
/// authenticator rejected it (`None`: no authenticator knows it).
pub type TokenResult = Result<(UserInfo, Vec<String>), Option<String>>;

/// The request authenticators.
pub struct Authenticator {
    admin_token: aro_common::Secret,
    static_tokens: StaticTokens,
    pub service_accounts: Arc<ServiceAccountTokens>,
    store: Arc<Store>,
}

impl Authenticator {
    pub fn new(
        admin_token: aro_common::Secret,
        static_tokens: StaticTokens,
        service_accounts: Arc<ServiceAccountTokens>,
        store: Arc<Store>,
    ) -> Self {
        Authenticator {
            admin_token,
            static_tokens,
            service_accounts,
            store,
        }
    }

    /// The request's user: the client certificate's, else the bearer token's (401 if the token
    /// is not valid), else the anonymous user. An authenticated user is in
    /// `system:authenticated`.
    pub fn authenticate(
        &self,
        certificate_user: Option<&UserInfo>,
        authorization: Option<&str>,
    ) -> Result<UserInfo, ApiError> {
        if let Some(user) = certificate_user {
            return Ok(user.clone().with_authenticated_group());
        }
        let token = authorization.and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            let token = token.trim();
            (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
        });
        let Some(token) = token else {
            return Ok(anonymous());
        };
        match self.authenticate_token(token, None) {
            Ok((user, _)) => Ok(user),
            Err(reason) => {
                // The reason is logged (never the token); the client gets kube's bare 401.
                tracing::debug!(
                    reason = reason.as_deref().unwrap_or("unknown token"),
                    "invalid bearer token"
                );
                Err(ApiError::unauthorized())
            }
        }
    }

    /// Authenticate a bearer token for `audiences` (`None`: the API server's own).
    pub fn authenticate_token(&self, token: &str, audiences: Option<&[String]>) -> TokenResult {
        let now = chrono::Utc::now().timestamp();
        self.authenticate_token_at(token, audiences, now)
    }

    fn authenticate_token_at(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        now: i64,
    ) -> TokenResult {
        let api_audiences = &self.service_accounts.api_audiences;
        // The admin and static tokens name no audience: they are valid for the API server's
        // audiences only (kube's audience-agnostic token authenticators).
        let agnostic = |user: UserInfo| -> TokenResult {
            let valid_for: Vec<String> = match audiences {
                None => api_audiences.clone(),
                Some(requested) => api_audiences
                    .iter()
                    .filter(|a| requested.contains(a))
                    .cloned()
                    .collect(),
            };
            if valid_for.is_empty() {
                return Err(None);
            }
            Ok((user.with_authenticated_group(), valid_for))
        };
        if token_matches(token, self.admin_token.expose()) {
            return agnostic(UserInfo::admin());
        }
        if let Some(user) = self.static_tokens.authenticate(token) {
            return agnostic(user);
        }
        match self
            .service_accounts
            .validate(token, audiences, now, self.store.as_ref())
        {
            Verdict::Valid { user, audiences } => Ok((user.with_authenticated_group(), audiences)),
            Verdict::Invalid(reason) => Err(Some(reason)),
            Verdict::NotServiceAccountToken => Err(None),
        }
    }

    /// `TokenReview` (POST /apis/authentication.k8s.io/v1/tokenreviews).
    pub fn token_review(&self, mut review: Value) -> Result<Value, ApiError> {
        let token = review["spec"]["token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if token.is_empty() {
            return Err(ApiError::bad_request(
                "token is required for TokenReview in authentication",
            ));
        }
        let audiences: Option<Vec<String>> = review["spec"]["audiences"]
            .as_array()
            .filter(|a| !a.is_empty())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            });
        let status = match self.authenticate_token(&token, audiences.as_deref()) {
            Ok((user, audiences)) => json!({
                "authenticated": true,
                "user": user_json(&user),
                "audiences": audiences,
            }),
            // kube reviews the token as a request's bearer token: its bearer authenticator's
            // error comes first.
            Err(Some(reason)) => {
                json!({"user": {}, "error": format!("[invalid bearer token, {reason}]")})
            }
            Err(None) => json!({"user": {}, "error": "invalid bearer token"}),
        };
        review["kind"] = json!("TokenReview");
        review["apiVersion"] = json!(AUTHENTICATION_V1);
        if !review["metadata"].is_object() {
            review["metadata"] = json!({});
        }
        review["metadata"]["creationTimestamp"] = Value::Null;
        review["status"] = status;
        Ok(review)
    }

    /// `TokenRequest` (POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token): a token for
    /// the ServiceAccount, as kube's serviceaccounts/token REST storage issues it.
    pub fn token_request(
        &self,
        namespace: &str,
        name: &str,
        mut request: Value,
    ) -> Result<Value, ApiError> {
        let invalid = |field: &str, message: String| {
            ApiError::invalid(
                AUTHENTICATION_GROUP,
                "TokenRequest",
                name,
                vec![Cause::new("FieldValueInvalid", field, message)],
            )
        };
        let meta = &request["metadata"];
        if let Some(n) = meta["name"]
            .as_str()
            .filter(|n| !n.is_empty() && *n != name)
        {
            return Err(invalid(
                "metadata.name",
                format!("Invalid value: \"{n}\": must match the service account name if specified"),
            ));
        }
        if let Some(n) = meta["namespace"]
            .as_str()
            .filter(|n| !n.is_empty() && *n != namespace)
        {
            return Err(invalid(
                "metadata.namespace",
                format!(
                    "Invalid value: \"{n}\": must match the service account namespace if specified"
                ),
            ));
        }
        let expiration = request["spec"]["expirationSeconds"]
            .as_i64()
            .unwrap_or(DEFAULT_EXPIRATION_SECONDS);
        if expiration < MIN_EXPIRATION_SECONDS {
            return Err(invalid(
                "spec.expirationSeconds",
                format!(
                    "Invalid value: {expiration}: may not specify a duration less than 10 minutes"
                ),
            ));
        }
        if expiration > MAX_EXPIRATION_SECONDS {
            return Err(invalid(
                "spec.expirationSeconds",
                format!(
                    "Invalid value: {expiration}: may not specify a duration larger than 2^32 seconds"
                ),
            ));
        }
        let sa = self
            .store
            .object("serviceaccounts", namespace, name)
            .ok_or_else(|| ApiError::not_found("", "serviceaccounts", name))?;
        let mut audiences: Vec<String> = request["spec"]["audiences"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if audiences.is_empty() {
            audiences = self.service_accounts.api_audiences.clone();
        }
        let (bound, node) =
            self.bound_object(namespace, name, &request["spec"]["boundObjectRef"])?;
        let spec = TokenSpec {
            namespace: namespace.into(),
            service_account: ObjectRef {
                name: name.into(),
                uid: uid_of(&sa),
            },
            audiences: audiences.clone(),
            expiration_seconds: expiration,
            bound,
            node,
        };
        let now = chrono::Utc::now().timestamp();
        let (token, exp) = self
            .service_accounts
            .issue(&spec, now)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        request["kind"] = json!("TokenRequest");
        request["apiVersion"] = json!(AUTHENTICATION_V1);
        request["metadata"] =
            json!({"name": name, "namespace": namespace, "creationTimestamp": null});
        request["spec"]["audiences"] = json!(audiences);
        request["spec"]["expirationSeconds"] = json!(expiration);
        request["status"] = json!({"token": token, "expirationTimestamp": rfc3339(exp)});
        Ok(request)
    }

    /// The object a TokenRequest binds its token to (and, for a Pod, its node), or kube's error.
    #[allow(clippy::type_complexity)]
    fn bound_object(
        &self,
        namespace: &str,
        sa_name: &str,
        reference: &Value,
    ) -> Result<(Option<(BoundKind, ObjectRef)>, Option<ObjectRef>), ApiError> {
        if !reference.is_object() {
            return Ok((None, None));
        }
        let api_version = reference["apiVersion"].as_str().unwrap_or_default();
        let kind = reference["kind"].as_str().unwrap_or_default();
        let ref_name = reference["name"].as_str().unwrap_or_default();
        let (group, _) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let Some(bound_kind) = BoundKind::of(kind).filter(|_| group.is_empty()) else {
            return Err(ApiError::bad_request(format!(
                "cannot bind token for serviceaccount \"{sa_name}\" to object of kind \"{group}/{}, Kind={kind}\"",
                api_version.rsplit('/').next().unwrap_or_default()
            )));
        };
        let object_namespace = if bound_kind == BoundKind::Node {
            ""
        } else {
            namespace
        };
        let object = self
            .store
            .object(bound_kind.resource(), object_namespace, ref_name)
            .ok_or_else(|| ApiError::not_found("", bound_kind.resource(), ref_name))?;
        let mut node = None;
        if bound_kind == BoundKind::Pod {
            if object["spec"]["serviceAccountName"]
                .as_str()
                .unwrap_or("default")
                != sa_name
            {
                return Err(ApiError::bad_request(format!(
                    "cannot bind token for serviceaccount \"{sa_name}\" to pod running with different serviceaccount name."
                )));
            }
            node = object["spec"]["nodeName"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map(|n| ObjectRef {
                    name: n.into(),
                    uid: self
                        .store
                        .object("nodes", "", n)
                        .map(|node| uid_of(&node))
                        .unwrap_or_default(),
                });
        }
        let uid = uid_of(&object);
        if let Some(expected) = reference["uid"].as_str().filter(|u| !u.is_empty())
            && expected != uid
        {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {kind} \"{ref_name}\": the UID in the bound object reference ({expected}) does not match the UID in record. The object might have been deleted and then recreated"
                ),
            )
            .with_details("", kind, ref_name));
        }
        Ok((
            Some((
                bound_kind,
                ObjectRef {
                    name: ref_name.into(),
                    uid,
                },
            )),
            node,
        ))
    }

    /// `/.well-known/openid-configuration` of the issuer, with the JWKS served at `server_url`.
    pub fn openid_configuration(&self, server_url: &str) -> Value {
        json!({
            "issuer": self.service_accounts.issuer,
            "jwks_uri": format!("{server_url}/openid/v1/jwks"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        })
    }

    /// `/openid/v1/jwks`.
    pub fn jwks(&self) -> Value {
        self.service_accounts.jwks()
    }
}

fn uid_of(object: &Value) -> String {
    object["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn rfc3339(unix_seconds: i64) -> String {
    chrono::DateTime::from_timestamp(unix_seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `authentication.k8s.io/v1` `UserInfo`.
pub fn user_json(user: &UserInfo) -> Value {
    let mut out = json!({"username": user.name, "groups": user.groups});
    if !user.uid.is_empty() {
        out["uid"] = json!(user.uid);
    }
    if !user.extra.is_empty() {
        out["extra"] = json!(user.extra);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::service_accounts::{DEFAULT_ISSUER, SigningKey};

    fn authenticator(static_tokens: &str) -> Authenticator {
        Authenticator::new(
            "admin-token".into(),
            StaticTokens::parse(static_tokens).unwrap(),
            Arc::new(ServiceAccountTokens::new(
                SigningKey::generate().unwrap(),
                DEFAULT_ISSUER.into(),
                vec!["api".into(), "other-api".into()],
            )),
            Store::in_memory(Default::default()),
        )
    }

    #[test]
    fn the_chain_is_certificate_then_tokens_then_anonymous() {
        let authn = authenticator("static-token,alice,uid-a,dev\n");
        let carol = UserInfo::new("carol", vec!["ops".into()]);
        let user = authn
            .authenticate(Some(&carol), Some("Bearer admin-token"))
            .unwrap();
        assert_eq!(
            (user.name.as_str(), user.groups.as_slice()),
            (
                "carol",
                &["ops".to_string(), "system:authenticated".into()][..]
            )
        );
        let admin = authn
            .authenticate(None, Some("Bearer admin-token"))
            .unwrap();
        assert!(admin.is_superuser());
        let alice = authn
            .authenticate(None, Some("bearer static-token"))
            .unwrap();
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.groups, vec!["dev", "system:authenticated"]);
        for no_credentials in [None, Some("Basic YTpi"), Some("Bearer "), Some("Bearer")] {
            let user = authn.authenticate(None, no_credentials).unwrap();
            assert_eq!(user, anonymous(), "{no_credentials:?}");
        }
        let error = authn
            .authenticate(None, Some("Bearer not-a-token"))
            .unwrap_err();
        assert_eq!((error.code, error.message.as_str()), (401, "Unauthorized"));
    }

    #[test]
    fn audience_agnostic_tokens_are_valid_for_the_api_audiences_only() {
        let authn = authenticator("static-token,alice,uid-a\n");
        let (_, audiences) = authn.authenticate_token("static-token", None).unwrap();
        assert_eq!(audiences, vec!["api", "other-api"]);
        let (_, audiences) = authn
            .authenticate_token("static-token", Some(&["other-api".into(), "x".into()]))
            .unwrap();
        assert_eq!(audiences, vec!["other-api"]);
        assert_eq!(
            authn.authenticate_token("admin-token", Some(&["vault".into()])),
            Err(None)
        );
    }

    #[test]
    fn token_request_validates_as_kube() {
        let authn = authenticator("");
        let error = authn
            .token_request("ns", "robot", json!({"spec": {"expirationSeconds": 599}}))
            .unwrap_err();
        assert_eq!(error.code, 422);
        assert_eq!(
            error.message,
            "TokenRequest.authentication.k8s.io \"robot\" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"
        );
        let error = authn
            .token_request(
                "ns",
                "robot",
                json!({"metadata": {"name": "other"}, "spec": {}}),
            )
            .unwrap_err();
        assert_eq!(error.code, 422);
        let error = authn
            .token_request("ns", "robot", json!({"spec": {}}))
            .unwrap_err();
        assert_eq!(
            (error.code, error.message.as_str()),
            (404, "serviceaccounts \"robot\" not found")
        );
    }
}
