//! ServiceAccount tokens as kube-apiserver's pkg/serviceaccount issues and validates them:
//! ES256-signed JWTs with the public claims (iss, sub, aud, exp, iat, nbf, jti) and the private
//! `kubernetes.io` claim naming the namespace, the ServiceAccount and the object the token is
//! bound to; plus the legacy, non-expiring tokens of `kubernetes.io/service-account-token`
//! Secrets. Validation checks the signature, the times, the audiences and that every object the
//! token names still exists with the uid in the token. Pure logic: objects are looked up through
//! [`ObjectLookup`], time is a parameter.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::UserInfo;
use crate::error::Error;

/// `--service-account-issuer`'s default, the issuer of kube-apiserver's typical configuration.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// The issuer of legacy (Secret-based) tokens.
pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";
/// Every ServiceAccount's group, and the prefix of each namespace's group and user name.
pub const SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";
const USER_PREFIX: &str = "system:serviceaccount:";
/// The Secret type and annotations of legacy tokens.
pub const TOKEN_SECRET_TYPE: &str = "kubernetes.io/service-account-token";
pub const SA_NAME_ANNOTATION: &str = "kubernetes.io/service-account.name";
pub const SA_UID_ANNOTATION: &str = "kubernetes.io/service-account.uid";
/// The user's extra keys (kube's `authentication.kubernetes.io/...`).
pub const CREDENTIAL_ID: &str = "authentication.kubernetes.io/credential-id";
const POD_NAME: &str = "authentication.kubernetes.io/pod-name";
const POD_UID: &str = "authentication.kubernetes.io/pod-uid";
const NODE_NAME: &str = "authentication.kubernetes.io/node-name";
const NODE_UID: &str = "authentication.kubernetes.io/node-uid";
/// Clock skew tolerated on exp, nbf and iat (go-jose's default leeway, which kube uses).
const LEEWAY_SECONDS: i64 = 60;
/// The signing key's file in the data dir.
const KEY_FILE: &str = "service-account.key";

/// `system:serviceaccount:<namespace>:<name>`.
pub fn user_name(namespace: &str, name: &str) -> String {
    format!("{USER_PREFIX}{namespace}:{name}")
}

/// The ECDSA P-256 key that signs every ServiceAccount token.
pub struct SigningKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// kube's key id: the unpadded base64url SHA-256 of the public key's DER (SPKI).
    kid: String,
    /// The public point's coordinates, base64url (the JWK's `x` and `y`).
    x: String,
    y: String,
}

impl SigningKey {
    /// A new random key.
    pub fn generate() -> Result<Self, Error> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| Error::Authentication(format!("generating the signing key: {e}")))?;
        Self::from_key_pair(&key)
    }

    /// The key in `dir` (created 0600 at first start), or a random one when there is no data dir.
    pub fn load_or_create(dir: Option<&Path>) -> Result<Self, Error> {
        let Some(dir) = dir else {
            return Self::generate();
        };
        let path = dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(pem) => {
                let key = rcgen::KeyPair::from_pem(&pem).map_err(|e| {
                    Error::Authentication(format!("{} is not a key: {e}", path.display()))
                })?;
                Self::from_key_pair(&key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key =
                    rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| {
                        Error::Authentication(format!("generating the signing key: {e}"))
                    })?;
                aro_common::fs::write_private_file(&path, key.serialize_pem().as_bytes())
                    .map_err(Error::PrivateFile)?;
                Self::from_key_pair(&key)
            }
            Err(e) => Err(Error::Authentication(format!(
                "reading {}: {e}",
                path.display()
            ))),
        }
    }

    fn from_key_pair(key: &rcgen::KeyPair) -> Result<Self, Error> {
        use rcgen::PublicKeyData;
        use sha2::Digest;
        let point = key.public_key_raw();
        if key.algorithm() != &rcgen::PKCS_ECDSA_P256_SHA256 || point.len() != 65 {
            return Err(Error::Authentication(
                "the service account signing key is not an ECDSA P-256 key".into(),
            ));
        }
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..]);
        let decoding = DecodingKey::from_ec_components(&x, &y)
            .map_err(|e| Error::Authentication(format!("the signing key's public key: {e}")))?;
        Ok(SigningKey {
            encoding: EncodingKey::from_ec_der(&key.serialize_der()),
            decoding,
            kid: URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(key.subject_public_key_info())),
            x,
            y,
        })
    }

    /// The JSON Web Key Set of the public key (kube's `/openid/v1/jwks`).
    pub fn jwks(&self) -> Value {
        json!({"keys": [{
            "use": "sig", "kty": "EC", "kid": self.kid, "crv": "P-256", "alg": "ES256",
            "x": self.x, "y": self.y,
        }]})
    }
}

/// `name` and `uid` of an object a token names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

/// The private `kubernetes.io` claim.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaim {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default)]
    pub serviceaccount: ObjectRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectRef>,
}

/// Every claim of either token form (a bound token has `kubernetes.io`, a legacy token the
/// `kubernetes.io/serviceaccount/...` claims).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(default)]
    pub iss: String,
    #[serde(default)]
    pub sub: String,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub aud: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jti: String,
    #[serde(
        rename = "kubernetes.io",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kubernetes: Option<KubernetesClaim>,
    #[serde(
        rename = "kubernetes.io/serviceaccount/namespace",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_namespace: Option<String>,
    #[serde(
        rename = "kubernetes.io/serviceaccount/secret.name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_secret_name: Option<String>,
    #[serde(
        rename = "kubernetes.io/serviceaccount/service-account.name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_service_account_name: Option<String>,
    #[serde(
        rename = "kubernetes.io/serviceaccount/service-account.uid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_service_account_uid: Option<String>,
}

/// `aud` is a string or an array of strings (RFC 7519).
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// The kinds a token can be bound to (TokenRequest's `boundObjectRef`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundKind {
    Pod,
    Secret,
    Node,
}

impl BoundKind {
    pub fn of(kind: &str) -> Option<Self> {
        match kind {
            "Pod" => Some(BoundKind::Pod),
            "Secret" => Some(BoundKind::Secret),
            "Node" => Some(BoundKind::Node),
            _ => None,
        }
    }

    /// The resource (plural) of the kind.
    pub fn resource(self) -> &'static str {
        match self {
            BoundKind::Pod => "pods",
            BoundKind::Secret => "secrets",
            BoundKind::Node => "nodes",
        }
    }
}

/// What a token is issued for.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    pub namespace: String,
    pub service_account: ObjectRef,
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
    /// The object the token is bound to, and (for a Pod) the node it runs on.
    pub bound: Option<(BoundKind, ObjectRef)>,
    pub node: Option<ObjectRef>,
}

/// Objects a token names, as they are stored now (`None`: not found).
pub trait ObjectLookup {
    /// The object `name` of the core resource `resource` (`namespace` empty if cluster-scoped).
    fn object(&self, resource: &str, namespace: &str, name: &str) -> Option<Value>;
}

/// What validating a token found.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Not a ServiceAccount token (another authenticator may know it).
    NotServiceAccountToken,
    /// A valid token: its user and the audiences it is valid for.
    Valid {
        user: UserInfo,
        audiences: Vec<String>,
    },
    /// A ServiceAccount token that does not authenticate (kube's error message).
    Invalid(String),
}

/// Issues and validates ServiceAccount tokens (kube-apiserver's token generator and JWT
/// authenticator with the legacy and bound validators).
pub struct ServiceAccountTokens {
    key: SigningKey,
    /// The claims of tokens whose signature was verified, by the SHA-256 of the token: a
    /// component presents the same token on every request, and an ES256 verification costs
    /// far more than the request. Only the signature is cached (the same bytes always verify the
    /// same way under the one key); times, audiences and the ServiceAccount and bound objects are
    /// checked on every request, so a deleted ServiceAccount's token stops working at once.
    verified: std::sync::Mutex<std::collections::HashMap<[u8; 32], Claims>>,
    /// `--service-account-issuer`.
    pub issuer: String,
    /// `--api-audiences`: the audiences of tokens the API server accepts, and the default
    /// audiences of a TokenRequest.
    pub api_audiences: Vec<String>,
}

impl ServiceAccountTokens {
    pub fn new(key: SigningKey, issuer: String, api_audiences: Vec<String>) -> Self {
        let api_audiences = if api_audiences.is_empty() {
            vec![issuer.clone()]
        } else {
            api_audiences
        };
        ServiceAccountTokens {
            key,
            verified: Default::default(),
            issuer,
            api_audiences,
        }
    }

    pub fn jwks(&self) -> Value {
        self.key.jwks()
    }

    fn sign(&self, claims: &Claims) -> Result<String, Error> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key.encoding)
            .map_err(|e| Error::Authentication(format!("signing a token: {e}")))
    }

    /// A bound token (what TokenRequest returns) and its expiry, issued at `now` (Unix seconds).
    pub fn issue(&self, spec: &TokenSpec, now: i64) -> Result<(String, i64), Error> {
        let exp = now + spec.expiration_seconds;
        let mut kubernetes = KubernetesClaim {
            namespace: spec.namespace.clone(),
            serviceaccount: spec.service_account.clone(),
            node: spec.node.clone(),
            ..Default::default()
        };
        match &spec.bound {
            Some((BoundKind::Pod, r)) => kubernetes.pod = Some(r.clone()),
            Some((BoundKind::Secret, r)) => kubernetes.secret = Some(r.clone()),
            Some((BoundKind::Node, r)) => kubernetes.node = Some(r.clone()),
            None => {}
        }
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: user_name(&spec.namespace, &spec.service_account.name),
            aud: spec.audiences.clone(),
            exp: Some(exp),
            iat: Some(now),
            nbf: Some(now),
            jti: uuid::Uuid::new_v4().to_string(),
            kubernetes: Some(kubernetes),
            ..Default::default()
        };
        Ok((self.sign(&claims)?, exp))
    }

    /// A legacy token of the Secret `secret_name` (kube's legacy claims: no audience, no expiry).
    pub fn issue_legacy(
        &self,
        namespace: &str,
        service_account: &ObjectRef,
        secret_name: &str,
    ) -> Result<String, Error> {
        self.sign(&Claims {
            iss: LEGACY_ISSUER.into(),
            sub: user_name(namespace, &service_account.name),
            legacy_namespace: Some(namespace.into()),
            legacy_secret_name: Some(secret_name.into()),
            legacy_service_account_name: Some(service_account.name.clone()),
            legacy_service_account_uid: Some(service_account.uid.clone()),
            ..Default::default()
        })
    }

    /// Authenticate `token` for `audiences` (`None`: the API audiences) at `now`.
    pub fn validate(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        now: i64,
        objects: &dyn ObjectLookup,
    ) -> Verdict {
        let Some(unverified) = peek_claims(token) else {
            return Verdict::NotServiceAccountToken;
        };
        let legacy = unverified.iss == LEGACY_ISSUER;
        if !legacy && unverified.iss != self.issuer {
            return Verdict::NotServiceAccountToken;
        }
        let Some(claims) = self.verified_claims(token) else {
            return Verdict::Invalid("invalid signature".into());
        };
        // Legacy tokens have no audience: they are valid for the API audiences only.
        let token_audiences = if claims.aud.is_empty() {
            self.api_audiences.clone()
        } else {
            claims.aud.clone()
        };
        let requested = audiences.unwrap_or(&self.api_audiences);
        let valid_for: Vec<String> = token_audiences
            .iter()
            .filter(|a| requested.contains(a))
            .cloned()
            .collect();
        if valid_for.is_empty() {
            return Verdict::Invalid(format!(
                "token audiences {token_audiences:?} is invalid for the target audiences {requested:?}"
            ));
        }
        let result = if legacy {
            validate_legacy(&claims, token, objects)
        } else {
            validate_bound(&claims, now, objects)
        };
        match result {
            Ok(user) => Verdict::Valid {
                user,
                audiences: valid_for,
            },
            Err(message) => Verdict::Invalid(message),
        }
    }
}

impl ServiceAccountTokens {
    /// The most verified tokens remembered; past it the cache starts over (tokens are few: one
    /// per component and pod, each refreshed hourly).
    const VERIFIED_CACHE_LIMIT: usize = 4096;

    /// The token's claims if its signature is ours (from the cache when verified before).
    fn verified_claims(&self, token: &str) -> Option<Claims> {
        use sha2::{Digest, Sha256};
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cache = || self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(claims) = cache().get(&digest) {
            return Some(claims.clone());
        }
        let mut validation = Validation::new(Algorithm::ES256);
        // Signature only: times and audiences are checked by the caller, as kube checks them.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key.decoding, &validation)
            .ok()?
            .claims;
        let mut cache = cache();
        if cache.len() >= Self::VERIFIED_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(digest, claims.clone());
        Some(claims)
    }
}

/// The claims of a JWT, unverified: only to see whose token it is.
fn peek_claims(token: &str) -> Option<Claims> {
    let mut parts = token.split('.');
    let (_, payload, _, None) = (parts.next()?, parts.next()?, parts.next()?, parts.next()) else {
        return None;
    };
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

fn uid_of(object: &Value) -> &str {
    object["metadata"]["uid"].as_str().unwrap_or_default()
}

fn deleting(object: &Value) -> bool {
    object["metadata"]["deletionTimestamp"].is_string()
}

/// The ServiceAccount `namespace/name` with the uid `uid`, or kube's error.
fn service_account(
    objects: &dyn ObjectLookup,
    namespace: &str,
    name: &str,
    uid: &str,
) -> Result<Value, String> {
    let sa = objects
        .object("serviceaccounts", namespace, name)
        .filter(|sa| !deleting(sa))
        .ok_or_else(|| format!("service account {namespace}/{name} has been deleted"))?;
    if uid_of(&sa) != uid {
        return Err(format!(
            "service account UID ({}) does not match claim ({uid})",
            uid_of(&sa)
        ));
    }
    Ok(sa)
}

pub(crate) fn service_account_user(namespace: &str, name: &str, uid: &str) -> UserInfo {
    UserInfo {
        name: user_name(namespace, name),
        uid: uid.into(),
        groups: vec![
            SERVICE_ACCOUNTS_GROUP.into(),
            format!("{SERVICE_ACCOUNTS_GROUP}:{namespace}"),
        ],
        extra: BTreeMap::new(),
    }
}

/// kube's bound-token validator (pkg/serviceaccount claims.go).
fn validate_bound(
    claims: &Claims,
    now: i64,
    objects: &dyn ObjectLookup,
) -> Result<UserInfo, String> {
    if claims.exp.is_some_and(|exp| now > exp + LEEWAY_SECONDS) {
        return Err("service account token has expired".into());
    }
    if claims.nbf.is_some_and(|nbf| now + LEEWAY_SECONDS < nbf) {
        return Err("service account token is not valid yet".into());
    }
    if claims.iat.is_some_and(|iat| now + LEEWAY_SECONDS < iat) {
        return Err("service account token is issued in the future".into());
    }
    let Some(k) = &claims.kubernetes else {
        return Err(
            "service account token claims could not be validated due to unexpected private claim"
                .into(),
        );
    };
    let ns = &k.namespace;
    service_account(objects, ns, &k.serviceaccount.name, &k.serviceaccount.uid)?;
    let mut user = service_account_user(ns, &k.serviceaccount.name, &k.serviceaccount.uid);
    if let Some(secret) = &k.secret {
        let found = objects
            .object("secrets", ns, &secret.name)
            .filter(|s| !deleting(s))
            .ok_or_else(|| format!("secret {ns}/{} has been deleted", secret.name))?;
        if uid_of(&found) != secret.uid {
            return Err(format!(
                "secret UID ({}) does not match service account secret ref claim ({})",
                uid_of(&found),
                secret.uid
            ));
        }
    }
    if let Some(pod) = &k.pod {
        let found = objects
            .object("pods", ns, &pod.name)
            .filter(|p| !deleting(p))
            .ok_or_else(|| format!("pod {ns}/{} has been deleted", pod.name))?;
        if uid_of(&found) != pod.uid {
            return Err(format!(
                "pod UID ({}) does not match claim ({})",
                uid_of(&found),
                pod.uid
            ));
        }
        user.extra.insert(POD_NAME.into(), vec![pod.name.clone()]);
        user.extra.insert(POD_UID.into(), vec![pod.uid.clone()]);
    }
    if let Some(node) = &k.node {
        // A node named only as the pod's host is informational; a node the token is bound to
        // must still exist.
        if k.pod.is_none() {
            let found = objects
                .object("nodes", "", &node.name)
                .filter(|n| !deleting(n))
                .ok_or_else(|| format!("node \"{}\" not found", node.name))?;
            if uid_of(&found) != node.uid {
                return Err(format!(
                    "node UID ({}) does not match claim ({})",
                    uid_of(&found),
                    node.uid
                ));
            }
        }
        user.extra.insert(NODE_NAME.into(), vec![node.name.clone()]);
        user.extra.insert(NODE_UID.into(), vec![node.uid.clone()]);
    }
    if !claims.jti.is_empty() {
        user.extra
            .insert(CREDENTIAL_ID.into(), vec![format!("JTI={}", claims.jti)]);
    }
    Ok(user)
}

/// kube's legacy validator (pkg/serviceaccount legacy.go): the ServiceAccount and its token
/// Secret still exist, and the Secret still holds this very token.
fn validate_legacy(
    claims: &Claims,
    token: &str,
    objects: &dyn ObjectLookup,
) -> Result<UserInfo, String> {
    let (Some(ns), Some(name), Some(uid), Some(secret_name)) = (
        &claims.legacy_namespace,
        &claims.legacy_service_account_name,
        &claims.legacy_service_account_uid,
        &claims.legacy_secret_name,
    ) else {
        return Err(
            "service account token claims could not be validated due to missing claims".into(),
        );
    };
    if claims.sub != user_name(ns, name) {
        return Err("sub claim does not match the service account".into());
    }
    let secret = objects
        .object("secrets", ns, secret_name)
        .filter(|s| !deleting(s))
        .ok_or_else(|| format!("secret {ns}/{secret_name} has been deleted"))?;
    let stored = secret["data"]["token"]
        .as_str()
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default();
    if !super::token_matches(token, &stored) {
        return Err("token does not match server's copy".into());
    }
    service_account(objects, ns, name, uid)?;
    Ok(service_account_user(ns, name, uid))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Objects by (resource, namespace, name).
    #[derive(Default)]
    struct Objects(BTreeMap<(String, String, String), Value>);

    impl Objects {
        fn put(&mut self, resource: &str, ns: &str, name: &str, uid: &str) {
            self.0.insert(
                (resource.into(), ns.into(), name.into()),
                json!({"metadata": {"name": name, "namespace": ns, "uid": uid}}),
            );
        }
        fn remove(&mut self, resource: &str, ns: &str, name: &str) {
            self.0.remove(&(resource.into(), ns.into(), name.into()));
        }
    }

    impl ObjectLookup for Objects {
        fn object(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
            self.0
                .get(&(resource.into(), namespace.into(), name.into()))
                .cloned()
        }
    }

    const NOW: i64 = 1_800_000_000;

    fn tokens() -> ServiceAccountTokens {
        ServiceAccountTokens::new(
            SigningKey::generate().unwrap(),
            DEFAULT_ISSUER.into(),
            Vec::new(),
        )
    }

    fn spec(bound: Option<(BoundKind, ObjectRef)>) -> TokenSpec {
        TokenSpec {
            namespace: "ns".into(),
            service_account: ObjectRef {
                name: "robot".into(),
                uid: "sa-uid".into(),
            },
            audiences: vec![DEFAULT_ISSUER.into()],
            expiration_seconds: 3600,
            bound,
            node: None,
        }
    }

    fn with_robot() -> Objects {
        let mut objects = Objects::default();
        objects.put("serviceaccounts", "ns", "robot", "sa-uid");
        objects
    }

    fn invalid(verdict: Verdict) -> String {
        match verdict {
            Verdict::Invalid(message) => message,
            other => panic!("expected an invalid token, got {other:?}"),
        }
    }

    #[test]
    fn a_bound_token_carries_kubes_claims_and_authenticates_its_service_account() {
        let tokens = tokens();
        let (token, exp) = tokens.issue(&spec(None), NOW).unwrap();
        assert_eq!(exp, NOW + 3600);
        let claims = peek_claims(&token).unwrap();
        assert_eq!(claims.iss, DEFAULT_ISSUER);
        assert_eq!(claims.sub, "system:serviceaccount:ns:robot");
        assert_eq!(claims.aud, vec![DEFAULT_ISSUER.to_string()]);
        assert_eq!(
            (claims.iat, claims.nbf, claims.exp),
            (Some(NOW), Some(NOW), Some(NOW + 3600))
        );
        assert!(uuid::Uuid::parse_str(&claims.jti).is_ok());
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(
            header.kid.as_deref(),
            tokens.jwks()["keys"][0]["kid"].as_str()
        );

        let Verdict::Valid { user, audiences } = tokens.validate(&token, None, NOW, &with_robot())
        else {
            panic!("the token is valid");
        };
        assert_eq!(audiences, vec![DEFAULT_ISSUER.to_string()]);
        assert_eq!(user.name, "system:serviceaccount:ns:robot");
        assert_eq!(user.uid, "sa-uid");
        assert_eq!(
            user.groups,
            vec!["system:serviceaccounts", "system:serviceaccounts:ns"]
        );
        assert_eq!(
            user.extra[CREDENTIAL_ID],
            vec![format!("JTI={}", claims.jti)]
        );
    }

    #[test]
    fn a_verified_signature_is_remembered_but_everything_else_is_checked_each_time() {
        let tokens = tokens();
        let (token, _) = tokens.issue(&spec(None), NOW).unwrap();
        assert!(matches!(
            tokens.validate(&token, None, NOW, &with_robot()),
            Verdict::Valid { .. }
        ));
        assert_eq!(tokens.verified.lock().unwrap().len(), 1);
        // The ServiceAccount is gone: the remembered signature does not keep the token alive.
        assert!(matches!(
            tokens.validate(&token, None, NOW, &Objects::default()),
            Verdict::Invalid(_)
        ));
        // Another token (a changed payload) is verified on its own and fails.
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        let mut claims = peek_claims(&token).unwrap();
        claims.sub = "system:serviceaccount:ns:admin".into();
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        assert_eq!(
            invalid(tokens.validate(&parts.join("."), None, NOW, &with_robot())),
            "invalid signature"
        );
        assert_eq!(tokens.verified.lock().unwrap().len(), 1);
    }

    #[test]
    fn an_expired_token_is_rejected_after_the_leeway() {
        let tokens = tokens();
        let (token, exp) = tokens.issue(&spec(None), NOW).unwrap();
        let objects = with_robot();
        assert!(matches!(
            tokens.validate(&token, None, exp + LEEWAY_SECONDS, &objects),
            Verdict::Valid { .. }
        ));
        assert_eq!(
            invalid(tokens.validate(&token, None, exp + LEEWAY_SECONDS + 1, &objects)),
            "service account token has expired"
        );
        assert_eq!(
            invalid(tokens.validate(&token, None, NOW - LEEWAY_SECONDS - 1, &objects)),
            "service account token is not valid yet"
        );
    }

    #[test]
    fn audiences_must_intersect() {
        let tokens = tokens();
        let mut other = spec(None);
        other.audiences = vec!["vault".into()];
        let (token, _) = tokens.issue(&other, NOW).unwrap();
        let objects = with_robot();
        assert_eq!(
            invalid(tokens.validate(&token, None, NOW, &objects)),
            "token audiences [\"vault\"] is invalid for the target audiences [\"https://kubernetes.default.svc.cluster.local\"]"
        );
        let Verdict::Valid { audiences, .. } =
            tokens.validate(&token, Some(&["vault".into(), "x".into()]), NOW, &objects)
        else {
            panic!("valid for vault");
        };
        assert_eq!(audiences, vec!["vault".to_string()]);
    }

    #[test]
    fn tokens_of_other_issuers_or_keys_are_not_accepted() {
        let tokens = tokens();
        let objects = with_robot();
        let elsewhere = ServiceAccountTokens::new(
            SigningKey::generate().unwrap(),
            "https://elsewhere.example".into(),
            Vec::new(),
        );
        let (foreign, _) = elsewhere.issue(&spec(None), NOW).unwrap();
        assert_eq!(
            tokens.validate(&foreign, None, NOW, &objects),
            Verdict::NotServiceAccountToken
        );
        // Same issuer, another key.
        let impostor = ServiceAccountTokens::new(
            SigningKey::generate().unwrap(),
            DEFAULT_ISSUER.into(),
            Vec::new(),
        );
        let (forged, _) = impostor.issue(&spec(None), NOW).unwrap();
        assert_eq!(
            invalid(tokens.validate(&forged, None, NOW, &objects)),
            "invalid signature"
        );
        // A payload changed after signing.
        let (token, _) = tokens.issue(&spec(None), NOW).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["exp"] = json!(NOW + 999_999);
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
            parts[2]
        );
        assert_eq!(
            invalid(tokens.validate(&tampered, None, NOW, &objects)),
            "invalid signature"
        );
        for not_a_jwt in ["", "abc", "a.b", "a.b.c.d", "dG9rZW4"] {
            assert_eq!(
                tokens.validate(not_a_jwt, None, NOW, &objects),
                Verdict::NotServiceAccountToken
            );
        }
    }

    #[test]
    fn a_deleted_or_recreated_service_account_invalidates_its_tokens() {
        let tokens = tokens();
        let (token, _) = tokens.issue(&spec(None), NOW).unwrap();
        let mut objects = with_robot();
        objects.remove("serviceaccounts", "ns", "robot");
        assert_eq!(
            invalid(tokens.validate(&token, None, NOW, &objects)),
            "service account ns/robot has been deleted"
        );
        objects.put("serviceaccounts", "ns", "robot", "new-uid");
        assert_eq!(
            invalid(tokens.validate(&token, None, NOW, &objects)),
            "service account UID (new-uid) does not match claim (sa-uid)"
        );
    }

    #[test]
    fn a_token_bound_to_a_secret_or_pod_lives_as_long_as_that_object() {
        let tokens = tokens();
        let secret = ObjectRef {
            name: "s".into(),
            uid: "secret-uid".into(),
        };
        let (token, _) = tokens
            .issue(&spec(Some((BoundKind::Secret, secret))), NOW)
            .unwrap();
        let mut objects = with_robot();
        objects.put("secrets", "ns", "s", "secret-uid");
        assert!(matches!(
            tokens.validate(&token, None, NOW, &objects),
            Verdict::Valid { .. }
        ));
        objects.remove("secrets", "ns", "s");
        assert_eq!(
            invalid(tokens.validate(&token, None, NOW, &objects)),
            "secret ns/s has been deleted"
        );
        objects.put("secrets", "ns", "s", "other-uid");
        assert_eq!(
            invalid(tokens.validate(&token, None, NOW, &objects)),
            "secret UID (other-uid) does not match service account secret ref claim (secret-uid)"
        );

        let pod = ObjectRef {
            name: "p".into(),
            uid: "pod-uid".into(),
        };
        let (token, _) = tokens
            .issue(&spec(Some((BoundKind::Pod, pod))), NOW)
            .unwrap();
        objects.put("pods", "ns", "p", "pod-uid");
        let Verdict::Valid { user, .. } = tokens.validate(&token, None, NOW, &objects) else {
            panic!("the pod exists");
        };
        assert_eq!(user.extra[POD_NAME], vec!["p".to_string()]);
        assert_eq!(user.extra[POD_UID], vec!["pod-uid".to_string()]);
        objects.remove("pods", "ns", "p");
        assert_eq!(
            invalid(tokens.validate(&token, None, NOW, &objects)),
            "pod ns/p has been deleted"
        );
    }

    #[test]
    fn a_legacy_token_is_valid_while_its_secret_holds_it() {
        let tokens = tokens();
        let robot = ObjectRef {
            name: "robot".into(),
            uid: "sa-uid".into(),
        };
        let token = tokens.issue_legacy("ns", &robot, "robot-token").unwrap();
        let claims = peek_claims(&token).unwrap();
        assert_eq!(claims.iss, LEGACY_ISSUER);
        assert_eq!((claims.exp, claims.aud.len()), (None, 0));
        let mut objects = with_robot();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&token);
        objects.0.insert(
            ("secrets".into(), "ns".into(), "robot-token".into()),
            json!({"metadata": {"uid": "secret-uid"}, "data": {"token": b64}}),
        );
        // No expiry: valid far in the future.
        let Verdict::Valid { user, .. } =
            tokens.validate(&token, None, NOW + 100 * 365 * 86400, &objects)
        else {
            panic!("the legacy token is valid");
        };
        assert_eq!(user.name, "system:serviceaccount:ns:robot");
        objects.remove("secrets", "ns", "robot-token");
        assert_eq!(
            invalid(tokens.validate(&token, None, NOW, &objects)),
            "secret ns/robot-token has been deleted"
        );
    }

    #[test]
    fn the_signing_key_persists_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let a = SigningKey::load_or_create(Some(dir.path())).unwrap();
        let b = SigningKey::load_or_create(Some(dir.path())).unwrap();
        assert_eq!(a.jwks(), b.jwks());
        assert_eq!(
            aro_common::fs::mode_of(&dir.path().join(KEY_FILE)) & 0o777,
            0o600
        );
        let c = SigningKey::load_or_create(None).unwrap();
        assert_ne!(a.jwks(), c.jwks());
    }
}
