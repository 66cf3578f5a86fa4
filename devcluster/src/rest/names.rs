//! Names and metadata: kube-apiserver's rules for object names (RFC 1123 subdomains and labels,
//! path-segment names), qualified names (finalizers), labels and annotations.

use serde_json::Value;

use crate::error::Cause;
use crate::registry::ResourceType;
use crate::selectors::LabelSelector;

/// How many names kube-apiserver generates for one `metadata.generateName` create before it
/// reports the conflict (its registry store's `maxNameGenerationCreateAttempts`).
pub const GENERATE_NAME_ATTEMPTS: usize = 8;

/// A name generated from `metadata.generateName`, as kube-apiserver's `SimpleNameGenerator`
/// makes it: the prefix (cut to 58 characters) and five random characters of an alphabet without
/// vowels and look-alikes.
pub fn generate_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let prefix: String = prefix.chars().take(58).collect();
    let suffix: String = (0..5)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{suffix}")
}

/// RFC 1123 subdomain (most names).
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// RFC 1123 label (namespaces, services).
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A Kubernetes qualified name: `[prefix/]name`, the prefix a DNS subdomain, the name at most
/// 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric.
pub fn is_qualified_name(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if prefix.is_some_and(|p| !is_dns_subdomain(p)) {
        return false;
    }
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn validate_name(rt: &ResourceType, name: &str) -> Option<Cause> {
    let label_kinds = rt.group.is_empty() && (rt.plural == "namespaces" || rt.plural == "services");
    let path_segment_kinds = rt.group == "rbac.authorization.k8s.io";
    if path_segment_kinds {
        if name.is_empty()
            || name == "."
            || name == ".."
            || name.contains('/')
            || name.contains('%')
        {
            return Some(Cause::new(
                "FieldValueInvalid",
                "metadata.name",
                format!(
                    "Invalid value: \"{name}\": may not contain '/' or '%' and may not be '.' or '..'"
                ),
            ));
        }
        return None;
    }
    if label_kinds && !is_dns_label(name) {
        return Some(Cause::new(
            "FieldValueInvalid",
            "metadata.name",
            format!(
                "Invalid value: \"{name}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            ),
        ));
    }
    if !label_kinds && !is_dns_subdomain(name) {
        return Some(Cause::new(
            "FieldValueInvalid",
            "metadata.name",
            format!(
                "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ),
        ));
    }
    None
}

pub(super) fn validate_metadata(rt: &ResourceType, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let meta = &obj["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        causes.push(Cause::new(
            "FieldValueRequired",
            "metadata.name",
            "Required value: name or generateName is required",
        ));
    } else if let Some(c) = validate_name(rt, name) {
        causes.push(c);
    }
    for (field, map) in [
        ("metadata.labels", &meta["labels"]),
        ("metadata.annotations", &meta["annotations"]),
    ] {
        if let Some(m) = map.as_object() {
            for (k, v) in m {
                if !v.is_string() {
                    causes.push(Cause::new(
                        "FieldValueTypeInvalid",
                        format!("{field}.{k}"),
                        "Invalid value: must be a string",
                    ));
                }
                if field == "metadata.labels"
                    && let Some(v) = v.as_str()
                    && LabelSelector::parse(&format!("{k}={v}")).is_err()
                {
                    causes.push(Cause::new(
                                "FieldValueInvalid",
                                "metadata.labels".to_string(),
                                format!("Invalid value: \"{v}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"),
                            ));
                }
            }
        }
    }
    // Like apimachinery's ValidateFinalizers: any qualified name (a domain-less name such as
    // the CRD cleanup finalizer is valid; apiserver only warns about it).
    if let Some(fins) = meta["finalizers"].as_array() {
        for (i, f) in fins.iter().enumerate() {
            let f = f.as_str().unwrap_or_default();
            if !is_qualified_name(f) {
                causes.push(Cause::new(
                    "FieldValueInvalid",
                    format!("metadata.finalizers[{i}]"),
                    format!("Invalid value: \"{f}\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"),
                ));
            }
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_rfc1123() {
        assert!(is_dns_subdomain("a.b-c.d"));
        assert!(!is_dns_subdomain("A"));
        assert!(!is_dns_subdomain("-a"));
        assert!(!is_dns_subdomain("a..b"));
        assert!(is_dns_label("kube-system"));
        assert!(!is_dns_label("a.b"));
    }

    #[test]
    fn finalizer_names_are_qualified_names() {
        assert!(is_qualified_name(
            "customresourcecleanup.apiextensions.k8s.io"
        ));
        assert!(is_qualified_name("example.com/hold"));
        assert!(is_qualified_name("hold"));
        assert!(!is_qualified_name("a/b/c"));
        assert!(!is_qualified_name("Bad Name"));
        assert!(!is_qualified_name("UPPER.com/x"));
        assert!(!is_qualified_name("example.com/"));
    }
}
