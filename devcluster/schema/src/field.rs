//! Field-level errors shaped like apimachinery's `field.Error`, rendered with its exact wording.

use serde_json::Value;
use std::fmt::Write as _;

/// The kind of a field error; [`FieldErrorType::reason`] is the `StatusCause.reason` kube-apiserver sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldErrorType {
    /// `FieldValueNotFound`
    NotFound,
    /// `FieldValueRequired`
    Required,
    /// `FieldValueDuplicate`
    Duplicate,
    /// `FieldValueInvalid`
    Invalid,
    /// `FieldValueNotSupported`
    NotSupported,
    /// `FieldValueForbidden`
    Forbidden,
    /// `FieldValueTooLong`
    TooLong,
    /// `FieldValueTooMany`
    TooMany,
    /// `InternalError`
    Internal,
    /// `FieldValueTypeInvalid`
    TypeInvalid,
}

impl FieldErrorType {
    /// The machine-readable reason (`metav1.CauseType`).
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotFound => "FieldValueNotFound",
            Self::Required => "FieldValueRequired",
            Self::Duplicate => "FieldValueDuplicate",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::Internal => "InternalError",
            Self::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The human-readable prefix (`ErrorType.String()`).
    pub fn text(self) -> &'static str {
        match self {
            Self::NotFound => "Not found",
            Self::Required => "Required value",
            Self::Duplicate => "Duplicate value",
            Self::Invalid | Self::TypeInvalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Forbidden => "Forbidden",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
            Self::Internal => "Internal error",
        }
    }
}

/// The offending value of a field error.
#[derive(Debug, Clone, PartialEq)]
pub enum BadValue {
    /// No value is printed (apimachinery's `omitValue`).
    Omitted,
    /// A JSON value, printed the way Go prints the equivalent `interface{}`.
    Value(Value),
}

/// One field-level error, equivalent to apimachinery's `field.Error`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// What is wrong.
    pub error_type: FieldErrorType,
    /// The field path, e.g. `spec.items[0].name` (`<nil>` for a root-level error without a base path,
    /// exactly like kube-apiserver).
    pub field: String,
    /// The offending value.
    pub bad_value: BadValue,
    /// Extra detail appended after the value.
    pub detail: String,
}

impl FieldError {
    fn new(
        error_type: FieldErrorType,
        field: impl Into<String>,
        bad_value: BadValue,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            error_type,
            field: field.into(),
            bad_value,
            detail: detail.into(),
        }
    }

    /// `field.Required`.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(
            FieldErrorType::Required,
            field,
            BadValue::Value(Value::String(String::new())),
            detail,
        )
    }

    /// `field.Invalid`.
    pub fn invalid(field: impl Into<String>, value: Value, detail: impl Into<String>) -> Self {
        Self::new(
            FieldErrorType::Invalid,
            field,
            BadValue::Value(value),
            detail,
        )
    }

    /// `field.TypeInvalid`.
    pub fn type_invalid(field: impl Into<String>, value: Value, detail: impl Into<String>) -> Self {
        Self::new(
            FieldErrorType::TypeInvalid,
            field,
            BadValue::Value(value),
            detail,
        )
    }

    /// `field.Forbidden`.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(
            FieldErrorType::Forbidden,
            field,
            BadValue::Value(Value::String(String::new())),
            detail,
        )
    }

    /// `field.Duplicate`.
    pub fn duplicate(field: impl Into<String>, value: Value) -> Self {
        Self::new(FieldErrorType::Duplicate, field, BadValue::Value(value), "")
    }

    /// `field.NotSupported`: `Unsupported value: "x": supported values: "a", "b"`.
    pub fn not_supported(field: impl Into<String>, value: Value, supported: &[String]) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(
            FieldErrorType::NotSupported,
            field,
            BadValue::Value(value),
            detail,
        )
    }

    /// `field.TooLong` (the value is never printed).
    pub fn too_long(field: impl Into<String>, max_length: i64) -> Self {
        let detail = if max_length >= 0 {
            let unit = if max_length == 1 { "byte" } else { "bytes" };
            format!("may not be more than {max_length} {unit}")
        } else {
            "value is too long".to_string()
        };
        Self::new(FieldErrorType::TooLong, field, BadValue::Omitted, detail)
    }

    /// `field.TooMany`: `Too many: 5: must have at most 3 items`.
    pub fn too_many(field: impl Into<String>, actual: i64, max: i64) -> Self {
        let detail = if max >= 0 {
            format!("must have at most {max} items")
        } else {
            "has too many items".to_string()
        };
        let bad_value = if actual >= 0 {
            BadValue::Value(Value::from(actual))
        } else {
            BadValue::Omitted
        };
        Self::new(FieldErrorType::TooMany, field, bad_value, detail)
    }

    /// `field.InternalError`.
    pub fn internal(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(
            FieldErrorType::Internal,
            field,
            BadValue::Value(Value::Null),
            detail,
        )
    }

    /// The message without the field (`ErrorBody()`); this is `StatusCause.message`.
    pub fn body(&self) -> String {
        let mut s = match self.error_type {
            FieldErrorType::Required
            | FieldErrorType::Forbidden
            | FieldErrorType::TooLong
            | FieldErrorType::Internal => self.error_type.text().to_string(),
            _ => match &self.bad_value {
                BadValue::Omitted => self.error_type.text().to_string(),
                BadValue::Value(v) => format!("{}: {}", self.error_type.text(), go_value(v)),
            },
        };
        if !self.detail.is_empty() {
            let _ = write!(s, ": {}", self.detail);
        }
        s
    }

    /// The full message, `<field>: <body>` (`Error()`).
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.body())
    }

    /// The `metav1.StatusCause` JSON object (`reason`, `message`, `field`).
    pub fn to_status_cause(&self) -> Value {
        serde_json::json!({
            "reason": self.error_type.reason(),
            "message": self.body(),
            "field": self.field,
        })
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

/// The message of `ErrorList.ToAggregate()`: duplicates removed, one message as-is, several in `[a, b]`.
pub fn aggregate_message(errors: &[FieldError]) -> String {
    let mut seen = std::collections::HashSet::new();
    let msgs: Vec<String> = errors
        .iter()
        .map(FieldError::message)
        .filter(|m| seen.insert(m.clone()))
        .collect();
    match msgs.len() {
        0 => String::new(),
        1 => msgs.into_iter().next().unwrap_or_default(),
        _ => format!("[{}]", msgs.join(", ")),
    }
}

/// The message of kube-apiserver's 422 Invalid status: `Kind.group "name" is invalid: <aggregate>`.
/// `qualified_kind` is e.g. `CronTab.stable.example.com` or `Deployment.apps` (`Pod` for the core group).
pub fn invalid_status_message(qualified_kind: &str, name: &str, errors: &[FieldError]) -> String {
    format!(
        "{qualified_kind} {} is invalid: {}",
        go_quote(name),
        aggregate_message(errors)
    )
}

/// A field path builder matching apimachinery's `field.Path` rendering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(String);

impl FieldPath {
    /// A root path (`field.NewPath(name)`).
    pub fn new(name: &str) -> Self {
        Self(name.to_string())
    }
    /// `Child(name)`: `a.b`.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Self(name.to_string())
        } else {
            Self(format!("{}.{name}", self.0))
        }
    }
    /// `Key(key)`: `a[key]`.
    pub fn key(&self, key: &str) -> Self {
        Self(format!("{}[{key}]", self.0))
    }
    /// `Index(i)`: `a[0]`.
    pub fn index(&self, i: usize) -> Self {
        Self(format!("{}[{i}]", self.0))
    }
    /// The rendered path.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Renders a value as Go's `ErrorBody` does: numbers and bools plainly, strings with `%q`,
/// everything else as `json.Marshal` output.
pub fn go_value(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => go_float_v(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => go_quote(s),
        _ => go_json(v),
    }
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' || c == '\u{feff}' => {
                if (c as u32) <= 0xffff {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`).
pub fn go_float_v(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        format!(
            "{mantissa}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    } else {
        format!("{f}")
    }
}

/// Go's `encoding/json` number rendering of a float64.
fn go_json_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let sci = format!("{f:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        format!(
            "{mantissa}e{}{}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    } else {
        format!("{f}")
    }
}

/// Go's `json.Marshal` of an unstructured value: sorted keys, HTML-safe escaping.
pub fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_go_json(v, &mut out);
    out
}

fn write_go_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_i64() {
            Some(i) => out.push_str(&i.to_string()),
            None => out.push_str(&go_json_float(n.as_f64().unwrap_or(0.0))),
        },
        Value::String(s) => write_go_json_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json_string(k, out);
                out.push(':');
                write_go_json(&m[k], out);
            }
            out.push('}');
        }
    }
}

fn write_go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn type_invalid_message_matches_apiserver() {
        let e = FieldError::type_invalid(
            "spec.replicas",
            json!("string"),
            "spec.replicas in body must be of type integer: \"string\"",
        );
        assert_eq!(
            e.message(),
            "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\""
        );
        assert_eq!(e.to_status_cause()["reason"], "FieldValueTypeInvalid");
        assert_eq!(e.to_status_cause()["field"], "spec.replicas");
    }

    #[test]
    fn required_not_supported_too_long_too_many() {
        assert_eq!(
            FieldError::required("spec.x", "").message(),
            "spec.x: Required value"
        );
        let ns = FieldError::not_supported("spec.x", json!("x"), &["a".into(), "b".into()]);
        assert_eq!(
            ns.body(),
            "Unsupported value: \"x\": supported values: \"a\", \"b\""
        );
        assert_eq!(
            FieldError::too_long("spec.n", 5).body(),
            "Too long: may not be more than 5 bytes"
        );
        assert_eq!(
            FieldError::too_long("spec.n", 1).body(),
            "Too long: may not be more than 1 byte"
        );
        assert_eq!(
            FieldError::too_many("spec.l", 5, 3).body(),
            "Too many: 5: must have at most 3 items"
        );
        assert_eq!(
            FieldError::duplicate("spec.l[1]", json!({"name": "a"})).body(),
            "Duplicate value: {\"name\":\"a\"}"
        );
        assert_eq!(
            FieldError::forbidden("spec.f", "nope").body(),
            "Forbidden: nope"
        );
    }

    #[test]
    fn go_formatting() {
        assert_eq!(go_float_v(1.5), "1.5");
        assert_eq!(go_float_v(1e6), "1e+06");
        assert_eq!(go_float_v(123456.0), "123456");
        assert_eq!(go_float_v(0.00001), "1e-05");
        assert_eq!(go_quote("a\"b\n"), "\"a\\\"b\\n\"");
        assert_eq!(
            go_json(&json!({"b": 1, "a": "<x>"})),
            "{\"a\":\"\\u003cx\\u003e\",\"b\":1}"
        );
        assert_eq!(go_value(&json!(null)), "null");
        assert_eq!(go_value(&json!(2.5)), "2.5");
    }

    #[test]
    fn aggregate_and_status_message() {
        let a = FieldError::required("spec.a", "");
        let b = FieldError::required("spec.b", "");
        assert_eq!(
            aggregate_message(std::slice::from_ref(&a)),
            "spec.a: Required value"
        );
        assert_eq!(
            invalid_status_message("CronTab.stable.example.com", "x", &[a.clone(), b, a]),
            "CronTab.stable.example.com \"x\" is invalid: [spec.a: Required value, spec.b: Required value]"
        );
    }

    #[test]
    fn field_path_rendering() {
        let p = FieldPath::new("spec")
            .child("versions")
            .index(0)
            .child("schema")
            .child("openAPIV3Schema");
        assert_eq!(
            p.child("properties").key("spec").as_str(),
            "spec.versions[0].schema.openAPIV3Schema.properties[spec]"
        );
    }
}
