//! Validation of custom resources against their CRD schema, with kube-openapi's semantics and
//! apiextensions-apiserver's mapping of its errors to field errors.

use serde_json::{Map, Value};

use super::field::{FieldError, FieldPath, go_float_v, go_json, go_quote};
use super::formats;
use super::structural::{AdditionalProperties, CrdSchema, Node};

/// Validates a custom resource (the whole object, as JSON) the way kube-apiserver's custom resource
/// strategy does on create and update: OpenAPI schema validation, `x-kubernetes-list-type` set/map
/// uniqueness, and `apiVersion`/`kind`/`metadata` checks of `x-kubernetes-embedded-resource` values.
///
/// Run it after pruning and defaulting ([`super::prune`], [`super::apply_defaults`]). The root
/// `metadata` itself is not checked here (that is generic ObjectMeta validation).
pub fn validate_custom_resource(schema: &CrdSchema, obj: &Value) -> Vec<FieldError> {
    let mut errs = validate_value(schema, obj);
    errs.extend(validate_list_sets_and_maps(schema, obj));
    errs.extend(validate_embedded_resources(schema, obj));
    errs
}

/// OpenAPI schema validation only (`ValidateCustomResource` with a nil base path: root-level errors
/// have the field `<nil>`, as in kube-apiserver).
pub fn validate_value(schema: &CrdSchema, value: &Value) -> Vec<FieldError> {
    let mut out = Vec::new();
    Validator { base: None }.node(&schema.root, "", value, &mut out);
    out
}

/// OpenAPI schema validation of `value` against `node`, reporting errors under `base` (used to validate
/// `default` values of a CRD schema).
pub(crate) fn validate_node_at(node: &Node, base: &str, value: &Value) -> Vec<FieldError> {
    let mut out = Vec::new();
    Validator { base: Some(base) }.node(node, "", value, &mut out);
    out
}

struct Validator<'a> {
    base: Option<&'a str>,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Null,
    Bool,
    Int(i64),
    Float(f64),
    Str,
    Arr,
    Obj,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Null => Kind::Null,
        Value::Bool(_) => Kind::Bool,
        Value::Number(n) => match n.as_i64() {
            Some(i) => Kind::Int(i),
            None => Kind::Float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(_) => Kind::Str,
        Value::Array(_) => Kind::Arr,
        Value::Object(_) => Kind::Obj,
    }
}

/// The JSON type and format go-openapi infers for a decoded value.
fn schema_info(k: Kind) -> (&'static str, &'static str) {
    match k {
        Kind::Null => ("null", ""),
        Kind::Bool => ("boolean", ""),
        Kind::Int(_) => ("integer", "int64"),
        Kind::Float(_) => ("number", "float64"),
        Kind::Str => ("string", ""),
        Kind::Arr => ("array", ""),
        Kind::Obj => ("object", ""),
    }
}

/// go-openapi's `swag.IsFloat64AJSONInteger`.
fn is_json_integer(f: f64) -> bool {
    const MAX: f64 = 9007199254740991.0;
    if !f.is_finite() || !(-MAX..=MAX).contains(&f) {
        return false;
    }
    let g = f.trunc();
    if f == g {
        return true;
    }
    let diff = (f - g).abs();
    diff / (f.abs() + g.abs()).min(f64::MAX) < 1e-9
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

impl Validator<'_> {
    /// apiextensions' mapping of a kube-openapi error name to a field path.
    fn path(&self, name: &str) -> String {
        let trimmed = name.strip_prefix('.').unwrap_or(name);
        match (self.base, name.is_empty() || name == ".") {
            (Some(b), true) => b.to_string(),
            (Some(b), false) => FieldPath::new(b).child(trimmed).to_string(),
            (None, true) => "<nil>".to_string(),
            (None, false) => trimmed.to_string(),
        }
    }

    fn composite(&self, msg: String) -> FieldError {
        FieldError::invalid(
            self.base.unwrap_or("<nil>"),
            Value::String(String::new()),
            msg,
        )
    }

    fn invalid_type(&self, path: &str, type_name: &str, value: &str) -> FieldError {
        let msg = format!(
            "{path} in body must be of type {type_name}: {}",
            go_quote(value)
        );
        FieldError::type_invalid(self.path(path), Value::String(value.to_string()), msg)
    }

    fn node(&self, n: &Node, path: &str, data: &Value, out: &mut Vec<FieldError>) {
        let k = kind(data);
        if k == Kind::Null {
            if !n.types.is_empty() && !n.types.contains(&"null") && !n.nullable {
                out.push(self.invalid_type(path, &self.type_names(n), "null"));
            }
            self.enum_check(n, path, data, out);
            return;
        }
        if !n.types.is_empty() || !n.format.is_empty() {
            self.type_check(n, path, k, out);
        }
        self.junctors(n, path, data, out);
        if let Value::String(s) = data {
            self.string_check(n, path, s, data, out);
            if !n.format.is_empty() && !formats::validates(&n.format, s) {
                let msg = format!(
                    "{path} in body must be of type {}: {}",
                    n.format,
                    go_quote(s)
                );
                out.push(FieldError::type_invalid(self.path(path), data.clone(), msg));
            }
        }
        if matches!(k, Kind::Int(_) | Kind::Float(_)) {
            self.number_check(n, path, k, data, out);
        }
        if let Value::Array(a) = data {
            self.slice_check(n, path, a, out);
        }
        self.enum_check(n, path, data, out);
        if let Value::Object(m) = data {
            self.object_check(n, path, m, out);
        }
    }

    fn type_names(&self, n: &Node) -> String {
        if n.int_or_string {
            n.types.join(",")
        } else {
            n.type_.clone()
        }
    }

    fn type_check(&self, n: &Node, path: &str, k: Kind, out: &mut Vec<FieldError>) {
        let (sch, format) = schema_info(k);
        let contains = |t: &str| n.types.contains(&t);
        let is_float_int = matches!(k, Kind::Float(f) if is_json_integer(f)) && contains("integer");
        let is_int_float = sch == "integer" && contains("number");
        let str_or_arr = matches!(k, Kind::Str | Kind::Arr);
        if !(str_or_arr
            || n.format.is_empty()
            || contains(sch)
            || format == n.format
            || is_float_int
            || is_int_float)
        {
            out.push(self.invalid_type(path, &n.format, format));
            return;
        }
        // A string or array with a format skips the type check unless the type is numeric (go-openapi quirk).
        if str_or_arr && !(contains("number") || contains("integer") || n.format.is_empty()) {
            return;
        }
        if !(contains(sch) || is_float_int || is_int_float) {
            out.push(self.invalid_type(path, &self.type_names(n), sch));
        }
    }

    fn junctors(&self, n: &Node, path: &str, data: &Value, out: &mut Vec<FieldError>) {
        let run = |s: &Node| {
            let mut r = Vec::new();
            self.node(s, path, data, &mut r);
            r
        };
        if !n.any_of.is_empty() {
            let mut best: Option<Vec<FieldError>> = None;
            let mut succeeded = false;
            for s in &n.any_of {
                let r = run(s);
                if r.is_empty() {
                    succeeded = true;
                    best = None;
                    break;
                }
                if best.is_none() {
                    best = Some(r);
                }
            }
            if !succeeded {
                out.push(self.composite(format!(
                    "{} must validate at least one schema (anyOf)",
                    go_quote(path)
                )));
            }
            out.extend(best.unwrap_or_default());
        }
        if !n.one_of.is_empty() {
            let mut best: Option<Vec<FieldError>> = None;
            let mut validated = 0;
            for s in &n.one_of {
                let r = run(s);
                if r.is_empty() {
                    validated += 1;
                    best = None;
                    continue;
                }
                if validated == 0 && best.is_none() {
                    best = Some(r);
                }
            }
            if validated != 1 {
                let additional = if validated == 0 {
                    "Found none valid".to_string()
                } else {
                    format!("Found {validated} valid alternatives")
                };
                out.push(self.composite(format!(
                    "{} must validate one and only one schema (oneOf). {additional}",
                    go_quote(path)
                )));
                out.extend(best.unwrap_or_default());
            }
        }
        if !n.all_of.is_empty() {
            let mut validated = 0;
            for s in &n.all_of {
                let r = run(s);
                if r.is_empty() {
                    validated += 1;
                }
                out.extend(r);
            }
            if validated != n.all_of.len() {
                let additional = if validated == 0 {
                    ". None validated"
                } else {
                    ""
                };
                out.push(self.composite(format!(
                    "{} must validate all the schemas (allOf){additional}",
                    go_quote(path)
                )));
            }
        }
        if let Some(not) = &n.not
            && run(not).is_empty()
        {
            out.push(self.composite(format!(
                "{} must not validate the schema (not)",
                go_quote(path)
            )));
        }
    }

    fn string_check(&self, n: &Node, path: &str, s: &str, data: &Value, out: &mut Vec<FieldError>) {
        let len = s.chars().count() as i64;
        if let Some(max) = n.max_length
            && len > max
        {
            out.push(FieldError::too_long(self.path(path), max));
            return;
        }
        if let Some(min) = n.min_length
            && len < min
        {
            let msg = format!("{path} in body should be at least {min} chars long");
            out.push(FieldError::invalid(self.path(path), data.clone(), msg));
            return;
        }
        if let Some((pattern, re)) = &n.pattern {
            let msg = match re {
                Err(e) => Some(format!(
                    "{path} in body should match '{pattern}, but pattern is invalid: {e}'"
                )),
                Ok(re) if !re.is_match(s) => {
                    Some(format!("{path} in body should match '{pattern}'"))
                }
                Ok(_) => None,
            };
            if let Some(msg) = msg {
                out.push(FieldError::invalid(self.path(path), data.clone(), msg));
            }
        }
    }

    fn number_check(&self, n: &Node, path: &str, k: Kind, data: &Value, out: &mut Vec<FieldError>) {
        let f = num(data);
        if let Some(factor) = n.multiple_of {
            let int_factor = factor.trunc() as i64;
            match k {
                Kind::Int(i) if int_factor > 0 => {
                    if i % int_factor != 0 {
                        let msg = format!("{path} in body should be a multiple of {int_factor}");
                        out.push(FieldError::invalid(self.path(path), data.clone(), msg));
                    }
                }
                _ if factor < 0.0 => {
                    let msg = format!(
                        "factor MultipleOf declared for {path} must be positive: {}",
                        go_float_v(factor)
                    );
                    out.push(FieldError::invalid(
                        self.path(path),
                        Value::from(factor),
                        msg,
                    ));
                }
                _ => {
                    let mult = if factor < 1.0 {
                        1.0 / factor * f
                    } else {
                        f / factor
                    };
                    if !is_json_integer(mult) {
                        let msg = format!(
                            "{path} in body should be a multiple of {}",
                            go_float_v(factor)
                        );
                        out.push(FieldError::invalid(self.path(path), data.clone(), msg));
                    }
                }
            }
        }
        let bound = |b: f64| match k {
            Kind::Int(_) => (b.trunc() as i64).to_string(),
            _ => go_float_v(b),
        };
        // Integers compare against the bound truncated to an integer, like go-openapi's native checks.
        let value = |b: f64| match k {
            Kind::Int(i) => (i as f64, b.trunc()),
            _ => (f, b),
        };
        if let Some(min) = n.minimum {
            let (v, b) = value(min);
            if (!n.exclusive_minimum && v < b) || (n.exclusive_minimum && v <= b) {
                let op = if n.exclusive_minimum {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                let msg = format!("{path} in body should be {op} {}", bound(min));
                out.push(FieldError::invalid(self.path(path), data.clone(), msg));
            }
        }
        if let Some(max) = n.maximum {
            let (v, b) = value(max);
            if (!n.exclusive_maximum && v > b) || (n.exclusive_maximum && v >= b) {
                let op = if n.exclusive_maximum {
                    "less than"
                } else {
                    "less than or equal to"
                };
                let msg = format!("{path} in body should be {op} {}", bound(max));
                out.push(FieldError::invalid(self.path(path), data.clone(), msg));
            }
        }
    }

    fn slice_check(&self, n: &Node, path: &str, a: &[Value], out: &mut Vec<FieldError>) {
        if let Some(items) = &n.items {
            for (i, v) in a.iter().enumerate() {
                self.node(items, &format!("{path}[{i}]"), v, out);
            }
        }
        let size = a.len() as i64;
        if let Some(min) = n.min_items
            && size < min
        {
            let msg = format!("{path} in body should have at least {min} items");
            out.push(FieldError::invalid(self.path(path), Value::from(size), msg));
        }
        if let Some(max) = n.max_items
            && size > max
        {
            out.push(FieldError::too_many(self.path(path), size, max));
        }
        if n.unique_items && a.iter().enumerate().any(|(i, x)| a[..i].contains(x)) {
            let msg = format!("{path} in body shouldn't contain duplicates");
            out.push(FieldError::invalid(
                self.path(path),
                Value::String(String::new()),
                msg,
            ));
        }
    }

    fn enum_check(&self, n: &Node, path: &str, data: &Value, out: &mut Vec<FieldError>) {
        let Some(values) = n.enum_.as_ref().filter(|e| !e.is_empty()) else {
            return;
        };
        if values.iter().any(|e| enum_matches(data, e)) {
            return;
        }
        let supported: Vec<String> = values
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => go_json(other),
            })
            .collect();
        out.push(FieldError::not_supported(
            self.path(path),
            data.clone(),
            &supported,
        ));
    }

    fn object_check(
        &self,
        n: &Node,
        path: &str,
        m: &Map<String, Value>,
        out: &mut Vec<FieldError>,
    ) {
        let count = m.len() as i64;
        if let Some(min) = n.min_properties
            && count < min
        {
            let msg = format!("{path} in body should have at least {min} properties");
            out.push(FieldError::invalid(
                self.path(path),
                Value::from(count),
                msg,
            ));
            return;
        }
        if let Some(max) = n.max_properties
            && count > max
        {
            out.push(FieldError::too_many(self.path(path), count, max));
            return;
        }
        match &n.additional_properties {
            Some(AdditionalProperties::Bool(false)) => {
                for k in m.keys().filter(|k| !n.properties.contains_key(*k)) {
                    let msg = format!("{path}.{k} in body is a forbidden property");
                    out.push(FieldError::invalid(
                        self.path(path),
                        Value::String(k.clone()),
                        msg,
                    ));
                }
            }
            Some(AdditionalProperties::Schema(s)) => {
                for (k, v) in m.iter().filter(|(k, _)| !n.properties.contains_key(*k)) {
                    self.node(s, &format!("{path}.{k}"), v, out);
                }
            }
            _ => {}
        }
        for (name, p) in &n.properties {
            if let Some(v) = m.get(name) {
                let child = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                self.node(p, &child, v, out);
            }
        }
        for k in &n.required {
            if !m.contains_key(k) {
                out.push(FieldError::required(self.path(&format!("{path}.{k}")), ""));
            }
        }
    }
}

/// go-openapi's enum comparison: deep equality, with numbers compared after conversion to the enum
/// value's type.
fn enum_matches(data: &Value, e: &Value) -> bool {
    match (data, e) {
        (Value::Number(d), Value::Number(v)) => match v.as_i64() {
            Some(vi) => d.as_i64().map_or_else(
                || d.as_f64().map(|f| f.trunc() as i64) == Some(vi),
                |di| di == vi,
            ),
            None => d.as_f64() == v.as_f64(),
        },
        _ => data == e,
    }
}

/// `x-kubernetes-list-type: set|map` uniqueness (apiextensions' `listtype.ValidateListSetsAndMaps`).
pub fn validate_list_sets_and_maps(schema: &CrdSchema, obj: &Value) -> Vec<FieldError> {
    let mut out = Vec::new();
    if let Value::Object(m) = obj {
        list_object(&FieldPath::default(), &schema.root, m, &mut out);
    }
    out
}

fn list_object(path: &FieldPath, s: &Node, m: &Map<String, Value>, out: &mut Vec<FieldError>) {
    if let Some(AdditionalProperties::Schema(ap)) = &s.additional_properties {
        for (k, v) in m {
            list_value(&path.key(k), ap, v, out);
        }
    }
    for (k, v) in m {
        if let Some(sub) = s.properties.get(k) {
            list_value(&path.child(k), sub, v, out);
        }
    }
}

fn list_value(path: &FieldPath, s: &Node, v: &Value, out: &mut Vec<FieldError>) {
    match v {
        Value::Array(a) => list_array(path, s, a, out),
        Value::Object(m) => list_object(path, s, m, out),
        _ => {}
    }
}

/// Identity of a list element as Go's `validateListSet` sees it: scalars by type and value, compound
/// values by their JSON encoding.
fn set_identity(v: &Value) -> String {
    match v {
        Value::Number(n) if n.as_i64().is_none() => format!("f:{}", go_json(v)),
        Value::Number(_) => format!("i:{}", go_json(v)),
        other => go_json(other),
    }
}

fn non_unique(keys: &[String]) -> Vec<usize> {
    let mut seen = std::collections::HashMap::new();
    let mut out = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let times = seen.entry(k.clone()).or_insert(0);
        *times += 1;
        if *times == 2 {
            out.push(i);
        }
    }
    out
}

fn list_array(path: &FieldPath, s: &Node, a: &[Value], out: &mut Vec<FieldError>) {
    match s.list_type.as_deref() {
        Some("set") if a.len() > 1 => {
            let keys: Vec<String> = a.iter().map(set_identity).collect();
            for i in non_unique(&keys) {
                out.push(FieldError::duplicate(
                    path.index(i).to_string(),
                    a[i].clone(),
                ));
            }
        }
        Some("map") => list_map(path, s, a, out),
        _ => {}
    }
    if let Some(items) = &s.items {
        for (i, v) in a.iter().enumerate() {
            list_value(&path.index(i), items, v, out);
        }
    }
}

fn list_map(path: &FieldPath, s: &Node, a: &[Value], out: &mut Vec<FieldError>) {
    for (i, x) in a.iter().enumerate() {
        if !x.is_null() && !x.is_object() {
            out.push(FieldError::invalid(
                path.index(i).to_string(),
                x.clone(),
                "must be an object for an array of list-type map",
            ));
            return;
        }
    }
    if a.len() <= 1 {
        return;
    }
    let key_of = |x: &Value| -> Map<String, Value> {
        let mut key = Map::new();
        if let Value::Object(m) = x {
            for f in &s.list_map_keys {
                if let Some(v) = m.get(f) {
                    key.insert(f.clone(), v.clone());
                }
            }
        }
        key
    };
    let keys: Vec<Map<String, Value>> = a.iter().map(key_of).collect();
    let ids: Vec<String> = keys
        .iter()
        .map(|k| {
            if s.list_map_keys.len() == 1 {
                k.values()
                    .next()
                    .map_or("<unspecified>".into(), set_identity)
            } else {
                go_json(&Value::Object(k.clone()))
            }
        })
        .collect();
    for i in non_unique(&ids) {
        out.push(FieldError::duplicate(
            path.index(i).to_string(),
            Value::Object(keys[i].clone()),
        ));
    }
}

/// Checks of `x-kubernetes-embedded-resource` values (apiextensions' `objectmeta.Validate` with
/// `isResourceRoot=false`): `apiVersion` and `kind` required strings, `kind` a DNS-1035 label in any
/// case, `metadata` an object whose name, generateName and namespace are valid.
pub fn validate_embedded_resources(schema: &CrdSchema, obj: &Value) -> Vec<FieldError> {
    let mut out = Vec::new();
    embedded(&FieldPath::default(), obj, Some(&schema.root), &mut out);
    out
}

fn embedded(path: &FieldPath, x: &Value, s: Option<&Node>, out: &mut Vec<FieldError>) {
    let Some(s) = s else { return };
    match x {
        Value::Object(m) => {
            if s.embedded_resource {
                embedded_resource(path, m, out);
            }
            for (k, v) in m {
                if let Some(p) = s.properties.get(k) {
                    embedded(&path.child(k), v, Some(p), out);
                } else if let Some(ap) = &s.additional_properties {
                    let sub = match ap {
                        AdditionalProperties::Schema(n) => Some(n.as_ref()),
                        AdditionalProperties::Bool(_) => None,
                    };
                    embedded(&path.key(k), v, sub, out);
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                embedded(&path.index(i), v, s.items.as_deref(), out);
            }
        }
        _ => {}
    }
}

/// apimachinery's `schema.ParseGroupVersion` error, if any.
pub(crate) fn parse_group_version_error(gv: &str) -> Option<String> {
    if gv.is_empty() || gv == "/" {
        return None;
    }
    match gv.matches('/').count() {
        0 | 1 => None,
        _ => Some(format!("unexpected GroupVersion string: {gv}")),
    }
}

const DNS1035_ERR: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_LABEL_ERR: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/// apimachinery's `IsDNS1035Label`.
pub(crate) fn dns1035_label_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    let b = s.as_bytes();
    let ok = !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-';
    if !ok {
        errs.push(DNS1035_ERR.to_string());
    }
    errs
}

fn dns1123_label_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    let b = s.as_bytes();
    let ok = !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-';
    if !ok {
        errs.push(DNS1123_LABEL_ERR.to_string());
    }
    errs
}

/// apimachinery's `path.ValidatePathSegmentName` (name and generateName of a resource).
pub(crate) fn path_segment_name_errors(name: &str, prefix: bool) -> Vec<String> {
    let mut errs = Vec::new();
    if !prefix {
        for bad in [".", ".."] {
            if name == bad {
                errs.push(format!("may not be '{bad}'"));
            }
        }
    }
    for bad in ["/", "%"] {
        if name.contains(bad) {
            errs.push(format!("may not contain '{bad}'"));
        }
    }
    errs
}

fn embedded_resource(path: &FieldPath, m: &Map<String, Value>, out: &mut Vec<FieldError>) {
    if !m.contains_key("apiVersion") {
        out.push(FieldError::required(
            path.child("apiVersion").to_string(),
            "",
        ));
    }
    if !m.contains_key("kind") {
        out.push(FieldError::required(path.child("kind").to_string(), ""));
    }
    for (k, v) in m {
        match k.as_str() {
            "apiVersion" => {
                let p = path.child("apiVersion").to_string();
                match v.as_str() {
                    None => out.push(FieldError::invalid(p, v.clone(), "must be a string")),
                    Some("") => out.push(FieldError::invalid(p, v.clone(), "must not be empty")),
                    Some(gv) => {
                        if let Some(e) = parse_group_version_error(gv) {
                            out.push(FieldError::invalid(p, v.clone(), e));
                        }
                    }
                }
            }
            "kind" => {
                let p = path.child("kind").to_string();
                match v.as_str() {
                    None => out.push(FieldError::invalid(p, v.clone(), "must be a string")),
                    Some("") => out.push(FieldError::invalid(p, v.clone(), "must not be empty")),
                    Some(kind) => {
                        let errs = dns1035_label_errors(&kind.to_lowercase());
                        if !errs.is_empty() {
                            let msg = format!(
                                "may have mixed case, but should otherwise match: {}",
                                errs.join(",")
                            );
                            out.push(FieldError::invalid(p, v.clone(), msg));
                        }
                    }
                }
            }
            "metadata" => embedded_metadata(&path.child("metadata"), v, out),
            _ => {}
        }
    }
}

fn embedded_metadata(path: &FieldPath, v: &Value, out: &mut Vec<FieldError>) {
    let Value::Object(meta) = v else {
        let msg = format!(
            "json: cannot unmarshal {} into Go value of type v1.ObjectMeta",
            json_type_name(v)
        );
        out.push(FieldError::invalid(path.to_string(), v.clone(), msg));
        return;
    };
    for (field, prefix) in [("name", false), ("generateName", true)] {
        if let Some(Value::String(name)) = meta.get(field) {
            for e in path_segment_name_errors(name, prefix) {
                out.push(FieldError::invalid(
                    path.child(field).to_string(),
                    Value::String(name.clone()),
                    e,
                ));
            }
        }
    }
    if let Some(Value::String(ns)) = meta.get("namespace")
        && !ns.is_empty()
    {
        for e in dns1123_label_errors(ns) {
            out.push(FieldError::invalid(
                path.child("namespace").to_string(),
                Value::String(ns.clone()),
                e,
            ));
        }
    }
}

/// The Go JSON decoder's name for the type of a JSON value in unmarshal errors.
pub(crate) fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
