//! [`Secret`]: the one wrapper of every secret value the RP handles (pull secrets, client secrets,
//! the kubeadmin password, kubeconfigs, bearer and admin tokens, the skip-token key).
//!
//! Its `Debug` and `Display` print `<redacted>`, so a secret that reaches a `tracing` field, an
//! error message or a `{:?}` of a larger struct shows no value. Reading the value takes an explicit
//! [`Secret::expose`], so every use is visible in review. It deserializes transparently (request
//! bodies, configuration files) but does not implement `Serialize`: writing a secret out (a
//! Kubernetes Secret, a `listCredentials` answer) goes through [`Secret::expose`] or, for a derived
//! `Serialize`, `#[serde(serialize_with = "aro_common::secret::serialize_exposed")]`.
//!
//! Equality compares the values as is (not in constant time): use it for state comparisons, not to
//! authenticate a caller.

use std::fmt;
use std::str::FromStr;

/// What a secret prints as.
pub const REDACTED: &str = "<redacted>";

/// A secret value of type `T` (a `String` unless said otherwise).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T = String>(T);

impl<T> Secret<T> {
    /// Wrap a value.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The value. Every call is a place where the secret leaves its wrapper: keep them few.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// The value, unwrapped.
    pub fn into_exposed(self) -> T {
        self.0
    }
}

impl Secret<String> {
    /// The value as `&str`.
    pub fn expose_str(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty (or only whitespace).
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Secret<String> {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Self(value.to_string())
    }
}

impl From<Vec<u8>> for Secret<Vec<u8>> {
    fn from(value: Vec<u8>) -> Self {
        Self(value)
    }
}

/// For clap (`Option<Secret>` flags): every string is a valid secret.
impl FromStr for Secret<String> {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Secret<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self)
    }
}

/// `serialize_with` for a `Secret` field that must be written out as its value.
pub fn serialize_exposed<S, T>(secret: &Secret<T>, serializer: S) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
    T: serde::Serialize,
{
    secret.0.serialize(serializer)
}

/// `serialize_with` for an `Option<Secret>` field that must be written out as its value.
pub fn serialize_exposed_option<S, T>(
    secret: &Option<Secret<T>>,
    serializer: S,
) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
    T: serde::Serialize,
{
    serde::Serialize::serialize(&secret.as_ref().map(|s| &s.0), serializer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, serde::Serialize)]
    struct Body {
        name: String,
        #[serde(serialize_with = "serialize_exposed")]
        secret: Secret,
        #[serde(default, serialize_with = "serialize_exposed_option")]
        other: Option<Secret>,
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::from("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{s:#?}"), "Secret(<redacted>)");
        let bytes = Secret::new(b"hunter2".to_vec());
        assert!(!format!("{bytes:?}").contains("104"));
        let body = Body {
            name: "n".into(),
            secret: s.clone(),
            other: Some("x-hunter3".into()),
        };
        let shown = format!("{body:?} {body:#?}");
        assert!(!shown.contains("hunter"), "{shown}");
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(s.expose_str(), "hunter2");
    }

    #[test]
    fn deserializes_transparently_and_serializes_only_when_asked() {
        let body: Body =
            serde_json::from_str(r#"{"name":"n","secret":"hunter2","other":"o"}"#).unwrap();
        assert_eq!(body.secret.expose(), "hunter2");
        assert_eq!(body.other.as_ref().map(Secret::expose_str), Some("o"));
        let written = serde_json::to_value(&body).unwrap();
        assert_eq!(written["secret"], "hunter2");
        assert_eq!(written["other"], "o");
    }

    #[test]
    fn parses_from_a_flag_value() {
        let s: Secret = "v".parse().unwrap();
        assert_eq!(s.into_exposed(), "v");
        assert!(Secret::from(" ").is_blank());
    }
}
