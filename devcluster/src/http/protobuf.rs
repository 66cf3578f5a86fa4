//! Request bodies in the Kubernetes protobuf encoding (`application/vnd.kubernetes.protobuf`), which
//! client-go's typed clients (kubectl's `create namespace|configmap|secret|deployment|...`) send,
//! decoded into the JSON the rest of the server handles.
//!
//! The wire form is the magic `k8s\0` followed by a `runtime.Unknown` message whose `typeMeta`
//! names the object's apiVersion and kind and whose `raw` is the object's own message. Messages
//! are decoded by reflection over the vendored Kubernetes `.proto` files (see `proto/README.md`),
//! then written as the API's JSON: field names as in the protos (they are the JSON names), bytes as
//! base64, the apimachinery types with a JSON form of their own (Quantity, IntOrString, Time,
//! MicroTime, Duration, RawExtension, FieldsV1) converted to it, and empty strings and zero times
//! left out as Go's JSON encoder leaves them out (numbers and booleans are kept: the wire cannot
//! tell an optional zero from a plain one).

use std::sync::LazyLock;

use base64::Engine;
use prost_reflect::{
    DescriptorPool, DynamicMessage, MapKey, MessageDescriptor, ReflectMessage, Value as Field,
};
use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// The first bytes of every Kubernetes protobuf body.
const MAGIC: &[u8] = b"k8s\0";
/// The media type.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

static POOL: LazyLock<Result<DescriptorPool, String>> = LazyLock::new(|| {
    DescriptorPool::decode(include_bytes!(concat!(env!("OUT_DIR"), "/kubernetes.fds")).as_ref())
        .map_err(|e| e.to_string())
});

fn pool() -> Result<&'static DescriptorPool, ApiError> {
    POOL.as_ref()
        .map_err(|e| ApiError::internal(format!("protobuf descriptors: {e}")))
}

fn bad(message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("protobuf: {message}"))
}

fn message(pool: &DescriptorPool, name: &str) -> Result<MessageDescriptor, ApiError> {
    pool.get_message_by_name(name)
        .ok_or_else(|| ApiError::internal(format!("protobuf descriptor {name} is missing")))
}

/// The proto package of an API group version (`apps/v1` -> `api.apps.v1`).
fn package_of(api_version: &str) -> String {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    match group {
        "" => format!("api.core.{version}"),
        "apiextensions.k8s.io" => {
            format!("apiextensions_apiserver.pkg.apis.apiextensions.{version}")
        }
        group => format!("api.{}.{version}", group.split('.').next().unwrap_or(group)),
    }
}

/// Decode a protobuf request body into the object's JSON (apiVersion and kind included).
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("the body does not start with the Kubernetes magic number"))?;
    let pool = pool()?;
    let unknown =
        DynamicMessage::decode(message(pool, "apimachinery.pkg.runtime.Unknown")?, envelope)
            .map_err(|e| bad(format!("cannot decode the envelope: {e}")))?;
    let text = |m: &DynamicMessage, name: &str| {
        m.get_field_by_name(name)
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let type_meta = unknown
        .get_field_by_name("typeMeta")
        .and_then(|v| v.as_message().cloned())
        .ok_or_else(|| bad("the envelope has no typeMeta"))?;
    let (api_version, kind) = (text(&type_meta, "apiVersion"), text(&type_meta, "kind"));
    if api_version.is_empty() || kind.is_empty() {
        return Err(bad("typeMeta needs apiVersion and kind"));
    }
    let encoding = text(&unknown, "contentEncoding");
    if !encoding.is_empty() {
        return Err(bad(format!("unsupported contentEncoding {encoding:?}")));
    }
    let raw = unknown
        .get_field_by_name("raw")
        .and_then(|v| v.as_bytes().cloned())
        .unwrap_or_default();
    let descriptor = pool
        .get_message_by_name(&format!("{}.{kind}", package_of(&api_version)))
        .ok_or_else(|| {
            ApiError::unsupported_media_type(&format!(
                "{CONTENT_TYPE} for {api_version}, Kind={kind}"
            ))
        })?;
    let object = DynamicMessage::decode(descriptor, raw.as_ref())
        .map_err(|e| bad(format!("cannot decode {api_version}, Kind={kind}: {e}")))?;
    let mut json = message_to_json(&object);
    if let Some(map) = json.as_object_mut() {
        map.insert("apiVersion".into(), json!(api_version));
        map.insert("kind".into(), json!(kind));
    }
    Ok(json)
}

fn int_field(m: &DynamicMessage, name: &str) -> i64 {
    match m.get_field_by_name(name).as_deref() {
        Some(Field::I64(v)) => *v,
        Some(Field::I32(v)) => i64::from(*v),
        _ => 0,
    }
}

fn raw_json(m: &DynamicMessage, name: &str) -> Value {
    m.get_field_by_name(name)
        .and_then(|v| v.as_bytes().and_then(|b| serde_json::from_slice(b).ok()))
        .unwrap_or(Value::Null)
}

/// Go's `time.Duration` text form (`1h2m3.5s`).
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let (hours, rest) = (n / 3_600_000_000_000, n % 3_600_000_000_000);
    let (minutes, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let seconds = rest as f64 / 1e9;
    let mut out = sign.to_string();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!("{seconds}s"));
    out
}

fn timestamp(m: &DynamicMessage, micros: bool) -> Value {
    let (seconds, nanos) = (int_field(m, "seconds"), int_field(m, "nanos"));
    // Go writes the zero time to JSON as null.
    if seconds == 0 && nanos == 0 {
        return Value::Null;
    }
    let Some(time) = chrono::DateTime::from_timestamp(seconds, nanos.clamp(0, 999_999_999) as u32)
    else {
        return Value::Null;
    };
    let format = if micros {
        chrono::SecondsFormat::Micros
    } else {
        chrono::SecondsFormat::Secs
    };
    json!(time.to_rfc3339_opts(format, true))
}

/// The JSON form of a decoded message.
fn message_to_json(m: &DynamicMessage) -> Value {
    match m.descriptor().full_name() {
        "apimachinery.pkg.api.resource.Quantity" => m
            .get_field_by_name("string")
            .and_then(|v| v.as_str().map(|s| json!(s)))
            .unwrap_or(Value::Null),
        "apimachinery.pkg.util.intstr.IntOrString" => {
            if int_field(m, "type") == 1 {
                m.get_field_by_name("strVal")
                    .and_then(|v| v.as_str().map(|s| json!(s)))
                    .unwrap_or(json!(""))
            } else {
                json!(int_field(m, "intVal"))
            }
        }
        "apimachinery.pkg.apis.meta.v1.Time" => timestamp(m, false),
        "apimachinery.pkg.apis.meta.v1.MicroTime" => timestamp(m, true),
        "apimachinery.pkg.apis.meta.v1.Duration" => json!(go_duration(int_field(m, "duration"))),
        "apimachinery.pkg.runtime.RawExtension" => raw_json(m, "raw"),
        "apimachinery.pkg.apis.meta.v1.FieldsV1" => raw_json(m, "Raw"),
        "apiextensions_apiserver.pkg.apis.apiextensions.v1.JSON" => raw_json(m, "raw"),
        _ => {
            // Go's encoder writes every non-pointer field, zero or not; its JSON leaves empty
            // strings and zero times out (omitempty), and so does this.
            let mut object = Map::new();
            for (field, value) in m.fields() {
                let json = field_to_json(value);
                if json.is_null() || json.as_str() == Some("") {
                    continue;
                }
                object.insert(field.name().to_string(), json);
            }
            Value::Object(object)
        }
    }
}

fn field_to_json(value: &Field) -> Value {
    match value {
        Field::Bool(v) => json!(v),
        Field::I32(v) => json!(v),
        Field::I64(v) => json!(v),
        Field::U32(v) => json!(v),
        Field::U64(v) => json!(v),
        Field::F32(v) => json!(v),
        Field::F64(v) => json!(v),
        Field::String(v) => json!(v),
        Field::Bytes(v) => json!(base64::engine::general_purpose::STANDARD.encode(v)),
        Field::EnumNumber(v) => json!(v),
        Field::Message(m) => message_to_json(m),
        Field::List(items) => Value::Array(items.iter().map(field_to_json).collect()),
        Field::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        MapKey::String(s) => s.clone(),
                        MapKey::Bool(b) => b.to_string(),
                        MapKey::I32(n) => n.to_string(),
                        MapKey::I64(n) => n.to_string(),
                        MapKey::U32(n) => n.to_string(),
                        MapKey::U64(n) => n.to_string(),
                    };
                    (key, field_to_json(v))
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// The body a client-go typed client sends: `raw` inside the `runtime.Unknown` envelope,
    /// after the magic number.
    fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let pool = pool().unwrap();
        let mut type_meta =
            DynamicMessage::new(message(pool, "apimachinery.pkg.runtime.TypeMeta").unwrap());
        type_meta.set_field_by_name("apiVersion", Field::String(api_version.into()));
        type_meta.set_field_by_name("kind", Field::String(kind.into()));
        let mut unknown =
            DynamicMessage::new(message(pool, "apimachinery.pkg.runtime.Unknown").unwrap());
        unknown.set_field_by_name("typeMeta", Field::Message(type_meta));
        unknown.set_field_by_name("raw", Field::Bytes(raw.into()));
        let mut body = MAGIC.to_vec();
        body.extend(unknown.encode_to_vec());
        body
    }

    /// An object of `kind` built by `build`, encoded as a client would send it.
    fn encode(api_version: &str, kind: &str, build: impl FnOnce(&mut DynamicMessage)) -> Vec<u8> {
        let pool = pool().unwrap();
        let mut object = DynamicMessage::new(
            pool.get_message_by_name(&format!("{}.{kind}", package_of(api_version)))
                .unwrap(),
        );
        build(&mut object);
        envelope(api_version, kind, object.encode_to_vec())
    }

    fn meta(name: &str) -> Field {
        let pool = pool().unwrap();
        let mut m =
            DynamicMessage::new(message(pool, "apimachinery.pkg.apis.meta.v1.ObjectMeta").unwrap());
        m.set_field_by_name("name", Field::String(name.into()));
        Field::Message(m)
    }

    #[test]
    fn a_namespace_decodes_with_its_type() {
        let body = encode("v1", "Namespace", |ns| {
            ns.set_field_by_name("metadata", meta("foo"));
        });
        assert_eq!(
            decode(&body).unwrap(),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "foo"}})
        );
    }

    #[test]
    fn empty_strings_and_zero_times_are_left_out() {
        let pool = pool().unwrap();
        let mut meta =
            DynamicMessage::new(message(pool, "apimachinery.pkg.apis.meta.v1.ObjectMeta").unwrap());
        meta.set_field_by_name("name", Field::String("d".into()));
        meta.set_field_by_name("generateName", Field::String(String::new()));
        meta.set_field_by_name("generation", Field::I64(0));
        let zero =
            DynamicMessage::new(message(pool, "apimachinery.pkg.apis.meta.v1.Time").unwrap());
        meta.set_field_by_name("creationTimestamp", Field::Message(zero));
        assert_eq!(
            message_to_json(&meta),
            json!({"name": "d", "generation": 0})
        );
    }

    #[test]
    fn secret_bytes_become_base64_and_maps_objects() {
        let body = encode("v1", "Secret", |s| {
            s.set_field_by_name("metadata", meta("s"));
            s.set_field_by_name(
                "data",
                Field::Map(
                    [(
                        MapKey::String("a".into()),
                        Field::Bytes(b"b".to_vec().into()),
                    )]
                    .into(),
                ),
            );
            s.set_field_by_name("type", Field::String("Opaque".into()));
        });
        assert_eq!(
            decode(&body).unwrap(),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                   "data": {"a": "Yg=="}, "type": "Opaque"})
        );
    }

    #[test]
    fn apimachinery_types_take_their_json_form() {
        let pool = pool().unwrap();
        let mut quantity =
            DynamicMessage::new(message(pool, "apimachinery.pkg.api.resource.Quantity").unwrap());
        quantity.set_field_by_name("string", Field::String("100m".into()));
        assert_eq!(message_to_json(&quantity), json!("100m"));
        let mut ios =
            DynamicMessage::new(message(pool, "apimachinery.pkg.util.intstr.IntOrString").unwrap());
        ios.set_field_by_name("type", Field::I64(1));
        ios.set_field_by_name("strVal", Field::String("http".into()));
        assert_eq!(message_to_json(&ios), json!("http"));
        ios.set_field_by_name("type", Field::I64(0));
        ios.set_field_by_name("intVal", Field::I32(8080));
        assert_eq!(message_to_json(&ios), json!(8080));
        let mut time =
            DynamicMessage::new(message(pool, "apimachinery.pkg.apis.meta.v1.Time").unwrap());
        time.set_field_by_name("seconds", Field::I64(1_700_000_000));
        assert_eq!(message_to_json(&time), json!("2023-11-14T22:13:20Z"));
        assert_eq!(go_duration(3_723_500_000_000), "1h2m3.5s");
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
    }

    #[test]
    fn garbage_is_a_bad_request_and_unknown_kinds_unsupported() {
        assert_eq!(decode(b"not protobuf").unwrap_err().code, 400);
        assert_eq!(decode(b"k8s\0\xff\xff\xff").unwrap_err().code, 400);
        let unknown_kind = envelope("example.com/v9", "Widget", Vec::new());
        assert_eq!(decode(&unknown_kind).unwrap_err().code, 415);
        let truncated = envelope("v1", "Namespace", vec![0x0a, 0x05, b'a']);
        assert_eq!(decode(&truncated).unwrap_err().code, 400);
    }
}
