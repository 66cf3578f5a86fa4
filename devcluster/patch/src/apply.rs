//! Server-side apply and field ownership (`metadata.managedFields`), as kube-apiserver's field
//! manager does it with structured-merge-diff: merging an applied configuration into the live
//! object, pruning fields a manager stopped applying, conflicts with other managers, and recording
//! the fields each non-apply write changed.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::fieldpath::{FieldPath, FieldSet, PathElement, json_equal};
use super::schema::{ListType, ListTypeInfo, NodeType, SchemaStep};
use super::{PatchError, StatusCause, causes_json};

/// Update managers beyond this many are merged, oldest first, into `ancient-changes`.
const MAX_UPDATE_MANAGERS: usize = 10;
const ANCIENT_CHANGES: &str = "ancient-changes";
const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// `metav1.ManagedFieldsEntry`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ManagedFieldsEntry {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manager: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// RFC 3339, seconds precision, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fields_type: String,
    #[serde(default, rename = "fieldsV1", skip_serializing_if = "Option::is_none")]
    pub fields_v1: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subresource: String,
}

/// `metav1.ManagedFieldsOperationType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Operation {
    Apply,
    Update,
}

/// Who writes, and how the written kind is shaped.
pub struct FieldManager<'a> {
    /// `fieldManager` of the request (for non-apply writes, kube-apiserver defaults it from the
    /// User-Agent: the part before the first `/`).
    pub manager: &'a str,
    /// `apiVersion` of the request (`apps/v1`).
    pub api_version: &'a str,
    /// `status`, `scale`, or `None` for the main resource.
    pub subresource: Option<&'a str>,
    /// Now, RFC 3339 in UTC with seconds precision (`2024-01-02T03:04:05Z`).
    pub time: &'a str,
    /// Schema of the kind: [`super::builtin_list_type_info`] or the CRD's.
    pub schema: &'a dyn ListTypeInfo,
    /// Paths whose ownership is not tracked because the endpoint resets them (`status` on the
    /// main resource of a kind with a status subresource; everything but `status` on `/status`,
    /// expressed as its top-level fields). A path covers everything below it.
    pub ignored_fields: &'a [FieldPath],
}

/// A successful apply.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyOutcome {
    /// The object to store: live merged with the applied configuration, minus the fields the
    /// manager stopped applying, with `metadata.managedFields` set.
    pub object: Value,
    /// The new `metadata.managedFields`.
    pub managed_fields: Vec<ManagedFieldsEntry>,
    /// Whether anything but `managedFields` changed.
    pub changed: bool,
}

/// A field another manager owns and the apply would change.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The other manager.
    pub manager: String,
    pub operation: Operation,
    /// Its `apiVersion` (printed for `Update` managers).
    pub api_version: String,
    pub subresource: String,
    pub field_path: FieldPath,
}

impl Conflict {
    fn manager_text(&self) -> String {
        let mut text = Value::from(self.manager.clone()).to_string();
        if !self.subresource.is_empty() {
            text = format!(
                "{text} with subresource {}",
                Value::from(self.subresource.clone())
            );
        }
        if self.operation == Operation::Update {
            text = format!("{text} using {}", self.api_version);
        }
        text
    }
}

/// The conflicts of a refused apply: 409 `Conflict`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyConflicts {
    pub conflicts: Vec<Conflict>,
}

impl ApplyConflicts {
    /// kube-apiserver's message: `Apply failed with 1 conflict: conflict with "m" using apps/v1:
    /// .spec.replicas`, or one line per field, grouped by manager, for several.
    pub fn message(&self) -> String {
        if let [only] = self.conflicts.as_slice() {
            return format!(
                "Apply failed with 1 conflict: conflict with {}: {}",
                only.manager_text(),
                only.field_path
            );
        }
        let mut by_manager: BTreeMap<(String, Operation, String, String), Vec<&Conflict>> =
            BTreeMap::new();
        for c in &self.conflicts {
            by_manager
                .entry((
                    c.manager.clone(),
                    c.operation,
                    c.api_version.clone(),
                    c.subresource.clone(),
                ))
                .or_default()
                .push(c);
        }
        let mut lines = Vec::new();
        for conflicts in by_manager.values() {
            lines.push(format!("conflicts with {}:", conflicts[0].manager_text()));
            for c in conflicts {
                lines.push(format!("- {}", c.field_path));
            }
        }
        format!(
            "Apply failed with {} conflicts: {}",
            self.conflicts.len(),
            lines.join("\n")
        )
    }

    /// One `FieldManagerConflict` cause per field.
    pub fn causes(&self) -> Vec<StatusCause> {
        self.conflicts
            .iter()
            .map(|c| StatusCause {
                reason: "FieldManagerConflict",
                message: format!("conflict with {}", c.manager_text()),
                field: c.field_path.to_string(),
            })
            .collect()
    }

    /// The whole `metav1.Status` body.
    pub fn to_status(&self) -> Value {
        serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message(),
            "reason": "Conflict",
            "details": {"causes": causes_json(&self.causes())},
            "code": 409,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ManagerKey {
    manager: String,
    operation: Operation,
    /// Empty for appliers: an applier is the same manager whatever version it applies.
    api_version: String,
    subresource: String,
}

#[derive(Debug, Clone)]
struct ManagerState {
    set: FieldSet,
    api_version: String,
    time: Option<String>,
}

type Managers = BTreeMap<ManagerKey, ManagerState>;

fn manager_key(manager: &str, operation: Operation, api_version: &str, sub: &str) -> ManagerKey {
    ManagerKey {
        manager: manager.to_string(),
        operation,
        api_version: if operation == Operation::Apply {
            String::new()
        } else {
            api_version.to_string()
        },
        subresource: sub.to_string(),
    }
}

fn decode_managers(entries: &[ManagedFieldsEntry]) -> Result<Managers, String> {
    let mut managers = Managers::new();
    for (i, entry) in entries.iter().enumerate() {
        let Some(operation) = entry.operation else {
            return Err("operation must be `Apply` or `Update`".into());
        };
        if entry.api_version.is_empty() {
            return Err("apiVersion must not be empty".into());
        }
        match entry.fields_type.as_str() {
            "FieldsV1" => {}
            "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
            other => {
                return Err(format!(
                    "invalid fieldsType {other:?} in managed fields entry {i}"
                ));
            }
        }
        let set = match &entry.fields_v1 {
            Some(fields) => FieldSet::from_fields_v1(fields)?,
            None => FieldSet::new(),
        };
        let key = manager_key(
            &entry.manager,
            operation,
            &entry.api_version,
            &entry.subresource,
        );
        let state = managers.entry(key).or_insert_with(|| ManagerState {
            set: FieldSet::new(),
            api_version: entry.api_version.clone(),
            time: entry.time.clone(),
        });
        state.set = state.set.union(&set);
    }
    Ok(managers)
}

/// Merges the oldest update managers into `ancient-changes` (one per version) above the cap.
fn cap_update_managers(managers: &mut Managers) {
    let mut updaters: Vec<ManagerKey> = managers
        .keys()
        .filter(|k| k.operation == Operation::Update)
        .cloned()
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort_by(|a, b| {
        let ta = managers[a].time.clone().unwrap_or_default();
        let tb = managers[b].time.clone().unwrap_or_default();
        ta.cmp(&tb).then_with(|| a.cmp(b))
    });
    let mut first_by_version: HashMap<String, ManagerKey> = HashMap::new();
    let mut length = updaters.len();
    for key in updaters {
        if length <= MAX_UPDATE_MANAGERS {
            break;
        }
        let Some(state) = managers.get(&key).cloned() else {
            continue;
        };
        let version = state.api_version.clone();
        let bucket = manager_key(ANCIENT_CHANGES, Operation::Update, &version, "");
        match first_by_version.get(&version) {
            Some(first) => {
                if !managers.contains_key(&bucket)
                    && let Some(first_state) = managers.remove(first)
                {
                    managers.insert(bucket.clone(), first_state);
                }
                if let Some(b) = managers.get_mut(&bucket) {
                    b.set = state.set.union(&b.set);
                    b.time = state.time.clone();
                }
                if key != bucket {
                    managers.remove(&key);
                }
                length -= 1;
            }
            None => {
                first_by_version.insert(version, key);
            }
        }
    }
}

fn encode_managers(managers: &Managers) -> Vec<ManagedFieldsEntry> {
    let mut entries: Vec<ManagedFieldsEntry> = managers
        .iter()
        .filter(|(_, state)| !state.set.is_empty())
        .map(|(key, state)| ManagedFieldsEntry {
            manager: key.manager.clone(),
            operation: Some(key.operation),
            api_version: state.api_version.clone(),
            time: state.time.clone(),
            fields_type: "FieldsV1".into(),
            fields_v1: Some(state.set.to_fields_v1()),
            subresource: key.subresource.clone(),
        })
        .collect();
    // kube-apiserver's order: operation (Apply first), time, manager, apiVersion, subresource
    entries.sort_by(|a, b| {
        a.operation
            .cmp(&b.operation)
            .then_with(|| {
                a.time
                    .clone()
                    .unwrap_or_default()
                    .cmp(&b.time.clone().unwrap_or_default())
            })
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
    entries
}

/// `metadata.managedFields` of an object (empty when absent or malformed).
pub fn managed_fields_of(object: &Value) -> Result<Vec<ManagedFieldsEntry>, String> {
    match object.pointer("/metadata/managedFields") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(value) => serde_json::from_value(value.clone()).map_err(|e| e.to_string()),
    }
}

/// Sets (or, when empty, removes) `metadata.managedFields`.
pub fn set_managed_fields(object: &mut Value, entries: &[ManagedFieldsEntry]) {
    let Some(Value::Object(metadata)) = object.get_mut("metadata") else {
        return;
    };
    if entries.is_empty() {
        metadata.remove("managedFields");
    } else {
        let value = serde_json::to_value(entries).unwrap_or(Value::Null);
        metadata.insert("managedFields".into(), value);
    }
}

fn without_managed_fields(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(Value::Object(metadata)) = object.get_mut("metadata") {
        metadata.remove("managedFields");
    }
    object
}

/// Paths nobody owns (kube-apiserver's `stripMetaManager`).
fn strip_set() -> FieldSet {
    let mut set = FieldSet::new();
    for path in [
        &["apiVersion"][..],
        &["kind"],
        &["metadata"],
        &["metadata", "name"],
        &["metadata", "namespace"],
        &["metadata", "creationTimestamp"],
        &["metadata", "selfLink"],
        &["metadata", "uid"],
        &["metadata", "clusterName"],
        &["metadata", "generation"],
        &["metadata", "managedFields"],
        &["metadata", "resourceVersion"],
    ] {
        set.insert(&FieldPath::fields(path).0);
    }
    set
}

fn ignored_set(fm: &FieldManager<'_>) -> FieldSet {
    let mut set = FieldSet::new();
    for path in fm.ignored_fields {
        set.insert(&path.0);
    }
    set
}

/// What a write may not own: stripped metadata and ignored (reset) fields.
fn owned_part(set: &FieldSet, ignored: &FieldSet) -> FieldSet {
    set.difference(&strip_set()).recursive_difference(ignored)
}

// ---------------------------------------------------------------------------------------------
// Typed walks of values, driven by the schema.

/// How a value is walked at a schema node.
enum Shape<'v> {
    Leaf,
    Object(&'v Map<String, Value>),
    SetList(&'v [Value]),
    MapList(&'v [Value], Vec<String>, Vec<(String, Value)>),
}

fn shape<'v>(node: &NodeType, value: &'v Value) -> Shape<'v> {
    match (value, node) {
        (Value::Object(_), NodeType::Struct { atomic: true } | NodeType::Map { atomic: true }) => {
            Shape::Leaf
        }
        (Value::Object(_), NodeType::List(_) | NodeType::Scalar) => Shape::Leaf,
        (Value::Object(map), _) => Shape::Object(map),
        (Value::Array(items), NodeType::List(ListType::Set)) => Shape::SetList(items),
        (Value::Array(items), NodeType::List(ListType::Map { keys, key_defaults })) => {
            Shape::MapList(items, keys.clone(), key_defaults.clone())
        }
        _ => Shape::Leaf,
    }
}

fn is_declared_field(parent: &NodeType, child: &NodeType) -> bool {
    matches!(parent, NodeType::Struct { .. }) && *child != NodeType::Unknown
}

struct Walker<'s> {
    schema: &'s dyn ListTypeInfo,
}

fn path_text(fp: &[PathElement]) -> String {
    FieldPath(fp.to_vec()).to_string()
}

fn schema_step(pe: &PathElement) -> SchemaStep<'_> {
    match pe {
        PathElement::Field(name) => SchemaStep::Field(name),
        _ => SchemaStep::Item,
    }
}

/// The path element of a list item.
fn item_element(
    item: &Value,
    index: usize,
    set_list: bool,
    keys: &[String],
    key_defaults: &[(String, Value)],
    fp: &[PathElement],
) -> Result<PathElement, String> {
    if set_list {
        return Ok(PathElement::Value(item.clone()));
    }
    let Value::Object(map) = item else {
        return Err(format!(
            "{}: element {index}: associative list with keys may only have map elements",
            path_text(fp)
        ));
    };
    let mut fields = Vec::with_capacity(keys.len());
    for key in keys {
        let value = match map.get(key) {
            Some(v) if !v.is_null() => v.clone(),
            _ => match key_defaults.iter().find(|(k, _)| k == key) {
                Some((_, default)) => default.clone(),
                None => {
                    return Err(format!(
                        "{}: element {index}: associative list with keys has an element that omits key field {:?} (and doesn't have default value)",
                        path_text(fp),
                        key
                    ));
                }
            },
        };
        fields.push((key.clone(), value));
    }
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(PathElement::Key(fields))
}

/// Items of a set or map list with their path elements; duplicates keep the first.
fn list_elements<'v>(
    items: &'v [Value],
    set_list: bool,
    keys: &[String],
    defaults: &[(String, Value)],
    fp: &[PathElement],
    allow_duplicates: bool,
) -> Result<Vec<(PathElement, &'v Value)>, String> {
    let mut out: Vec<(PathElement, &Value)> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let pe = item_element(item, i, set_list, keys, defaults, fp)?;
        if out.iter().any(|(p, _)| *p == pe) {
            if allow_duplicates {
                continue;
            }
            return Err(format!("{}: duplicate entries for key {pe}", path_text(fp)));
        }
        out.push((pe, item));
    }
    Ok(out)
}

#[derive(Debug, Default)]
struct Comparison {
    added: FieldSet,
    removed: FieldSet,
    modified: FieldSet,
}

impl Walker<'_> {
    fn node(&self, path: &[SchemaStep<'_>]) -> NodeType {
        self.schema.node(path)
    }

    /// The set of fields a value specifies (structured-merge-diff `ToFieldSet`).
    fn to_field_set(&self, value: &Value, allow_duplicates: bool) -> Result<FieldSet, String> {
        let mut out = FieldSet::new();
        self.field_set_walk(
            value,
            &mut Vec::new(),
            &mut Vec::new(),
            &mut out,
            allow_duplicates,
        )?;
        Ok(out)
    }

    fn field_set_walk<'v>(
        &self,
        value: &'v Value,
        path: &mut Vec<SchemaStep<'v>>,
        fp: &mut Vec<PathElement>,
        out: &mut FieldSet,
        allow_duplicates: bool,
    ) -> Result<(), String> {
        let node = self.node(path);
        match shape(&node, value) {
            Shape::Leaf => out.insert(fp),
            Shape::Object(map) => {
                for (key, child) in map {
                    path.push(SchemaStep::Field(key));
                    fp.push(PathElement::Field(key.clone()));
                    self.field_set_walk(child, path, fp, out, allow_duplicates)?;
                    let child_node = self.node(path);
                    let empty_object = child.as_object().is_some_and(Map::is_empty);
                    if child.is_null() || empty_object || !is_declared_field(&node, &child_node) {
                        out.insert(fp);
                    }
                    fp.pop();
                    path.pop();
                }
            }
            Shape::SetList(items) => {
                for (pe, _) in list_elements(items, true, &[], &[], fp, allow_duplicates)? {
                    fp.push(pe);
                    out.insert(fp);
                    fp.pop();
                }
            }
            Shape::MapList(items, keys, defaults) => {
                for (pe, item) in
                    list_elements(items, false, &keys, &defaults, fp, allow_duplicates)?
                {
                    path.push(SchemaStep::Item);
                    fp.push(pe);
                    self.field_set_walk(item, path, fp, out, allow_duplicates)?;
                    out.insert(fp);
                    fp.pop();
                    path.pop();
                }
            }
        }
        Ok(())
    }

    /// Merges the applied configuration `rhs` into `lhs` (structured-merge-diff `Merge`).
    fn merge<'v>(
        &self,
        lhs: &'v Value,
        rhs: &'v Value,
        path: &mut Vec<SchemaStep<'v>>,
        fp: &mut Vec<PathElement>,
    ) -> Result<Value, String> {
        let node = self.node(path);
        match (shape(&node, lhs), shape(&node, rhs)) {
            (Shape::Object(l), Shape::Object(r)) => {
                let mut out = l.clone();
                for (key, rv) in r {
                    let merged = match l.get(key) {
                        Some(lv) => {
                            path.push(SchemaStep::Field(key));
                            fp.push(PathElement::Field(key.clone()));
                            let merged = self.merge(lv, rv, path, fp);
                            fp.pop();
                            path.pop();
                            merged?
                        }
                        None => rv.clone(),
                    };
                    out.insert(key.clone(), merged);
                }
                Ok(Value::Object(out))
            }
            (Shape::SetList(l), Shape::SetList(r)) => {
                let l = list_elements(l, true, &[], &[], fp, true)?;
                let r = list_elements(r, true, &[], &[], fp, false)?;
                self.merge_list(l, r, path, fp)
            }
            (Shape::MapList(l, keys, defaults), Shape::MapList(r, _, _)) => {
                let l = list_elements(l, false, &keys, &defaults, fp, true)?;
                let r = list_elements(r, false, &keys, &defaults, fp, false)?;
                self.merge_list(l, r, path, fp)
            }
            _ => Ok(rhs.clone()),
        }
    }

    /// structured-merge-diff's list merge: shared items keep the applied order, live-only items
    /// stay where they were, new items follow the applied order.
    fn merge_list<'v>(
        &self,
        lhs: Vec<(PathElement, &'v Value)>,
        rhs: Vec<(PathElement, &'v Value)>,
        path: &mut Vec<SchemaStep<'v>>,
        fp: &mut Vec<PathElement>,
    ) -> Result<Value, String> {
        let in_lhs = |pe: &PathElement| lhs.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
        let in_rhs = |pe: &PathElement| rhs.iter().any(|(p, _)| p == pe);
        let mut shared = rhs
            .iter()
            .filter(|(pe, _)| in_lhs(pe).is_some())
            .map(|(pe, _)| pe.clone())
            .collect::<Vec<_>>()
            .into_iter();
        let mut next_shared = shared.next();
        let mut merged_rhs: Vec<PathElement> = Vec::new();
        let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
        let (mut li, mut ri) = (0, 0);
        let merge_item = |lv: Option<&'v Value>,
                          rv: &'v Value,
                          pe: &PathElement,
                          walker: &Self,
                          path: &mut Vec<SchemaStep<'v>>,
                          fp: &mut Vec<PathElement>|
         -> Result<Value, String> {
            match lv {
                Some(lv) => {
                    path.push(SchemaStep::Item);
                    fp.push(pe.clone());
                    let merged = walker.merge(lv, rv, path, fp);
                    fp.pop();
                    path.pop();
                    merged
                }
                None => Ok(rv.clone()),
            }
        };
        while li < lhs.len() || ri < rhs.len() {
            if li < lhs.len() && ri < rhs.len() {
                let pe = &lhs[li].0;
                if *pe == rhs[ri].0 {
                    merged_rhs.push(pe.clone());
                    out.push(merge_item(Some(lhs[li].1), rhs[ri].1, pe, self, path, fp)?);
                    li += 1;
                    ri += 1;
                    next_shared = shared.next();
                    continue;
                }
                if in_rhs(pe) && next_shared.as_ref().is_some_and(|n| n != pe) {
                    li += 1;
                    continue;
                }
            }
            if li < lhs.len() {
                let pe = &lhs[li].0;
                if !in_rhs(pe) {
                    out.push(lhs[li].1.clone());
                    li += 1;
                    continue;
                } else if merged_rhs.contains(pe) {
                    li += 1;
                    continue;
                }
            }
            if ri < rhs.len() {
                let (pe, rv) = &rhs[ri];
                merged_rhs.push(pe.clone());
                out.push(merge_item(in_lhs(pe), rv, pe, self, path, fp)?);
                ri += 1;
                if next_shared.as_ref() == Some(pe) {
                    next_shared = shared.next();
                }
            }
        }
        Ok(Value::Array(out))
    }

    /// Added, removed and modified paths from `lhs` to `rhs` (structured-merge-diff `Compare`).
    fn compare(&self, lhs: &Value, rhs: &Value) -> Result<Comparison, String> {
        let mut cmp = Comparison::default();
        self.compare_walk(
            Some(lhs),
            Some(rhs),
            &mut Vec::new(),
            &mut Vec::new(),
            &mut cmp,
        )?;
        Ok(cmp)
    }

    fn compare_walk<'v>(
        &self,
        lhs: Option<&'v Value>,
        rhs: Option<&'v Value>,
        path: &mut Vec<SchemaStep<'v>>,
        fp: &mut Vec<PathElement>,
        cmp: &mut Comparison,
    ) -> Result<(), String> {
        let node = self.node(path);
        let ls = lhs.map(|v| shape(&node, v));
        let rs = rhs.map(|v| shape(&node, v));
        // a missing or null side is an empty container when the other side is one
        let empty =
            |s: &Option<Shape<'_>>, v: Option<&Value>| s.is_none() || v.is_some_and(Value::is_null);
        let object = |s: &Option<Shape<'v>>| match s {
            Some(Shape::Object(m)) => Some(*m),
            _ => None,
        };
        let list = |s: &Option<Shape<'v>>| match s {
            Some(Shape::SetList(items)) => Some((*items, true, Vec::new(), Vec::new())),
            Some(Shape::MapList(items, keys, defaults)) => {
                Some((*items, false, keys.clone(), defaults.clone()))
            }
            _ => None,
        };
        let (lo, ro) = (object(&ls), object(&rs));
        if (lo.is_some() || empty(&ls, lhs))
            && (ro.is_some() || empty(&rs, rhs))
            && (lo.is_some() || ro.is_some())
        {
            let mut keys: Vec<&'v String> = Vec::new();
            for k in lo
                .into_iter()
                .flat_map(Map::keys)
                .chain(ro.into_iter().flat_map(Map::keys))
            {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
            for key in keys {
                let lv = lo.and_then(|m| m.get(key.as_str()));
                let rv = ro.and_then(|m| m.get(key.as_str()));
                path.push(SchemaStep::Field(key));
                fp.push(PathElement::Field(key.clone()));
                self.compare_walk(lv, rv, path, fp, cmp)?;
                if lv.is_none() {
                    cmp.added.insert(fp);
                }
                if rv.is_none() {
                    cmp.removed.insert(fp);
                }
                fp.pop();
                path.pop();
            }
            return Ok(());
        }
        let (ll, rl) = (list(&ls), list(&rs));
        if (ll.is_some() || empty(&ls, lhs))
            && (rl.is_some() || empty(&rs, rhs))
            && (ll.is_some() || rl.is_some())
        {
            let (set_list, keys, defaults) = match (&ll, &rl) {
                (Some((_, s, k, d)), _) | (None, Some((_, s, k, d))) => (*s, k.clone(), d.clone()),
                (None, None) => (true, Vec::new(), Vec::new()),
            };
            let l = match ll {
                Some((items, ..)) => list_elements(items, set_list, &keys, &defaults, fp, true)?,
                None => Vec::new(),
            };
            let r = match rl {
                Some((items, ..)) => list_elements(items, set_list, &keys, &defaults, fp, true)?,
                None => Vec::new(),
            };
            let mut pes: Vec<&PathElement> = Vec::new();
            for (pe, _) in l.iter().chain(r.iter()) {
                if !pes.contains(&pe) {
                    pes.push(pe);
                }
            }
            for pe in pes {
                let lv = l.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
                let rv = r.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
                path.push(SchemaStep::Item);
                fp.push(pe.clone());
                self.compare_walk(lv, rv, path, fp, cmp)?;
                if lv.is_none() {
                    cmp.added.insert(fp);
                }
                if rv.is_none() {
                    cmp.removed.insert(fp);
                }
                fp.pop();
                path.pop();
            }
            return Ok(());
        }
        match (lhs, rhs) {
            (None, Some(_)) => cmp.added.insert(fp),
            (Some(_), None) => cmp.removed.insert(fp),
            (Some(l), Some(r)) if !json_equal(l, r) => cmp.modified.insert(fp),
            _ => {}
        }
        Ok(())
    }

    /// Removes the paths of `set` from `value` (structured-merge-diff `RemoveItems`).
    fn remove_items<'v>(
        &self,
        value: &'v Value,
        set: &FieldSet,
        path: &mut Vec<SchemaStep<'v>>,
        fp: &mut Vec<PathElement>,
    ) -> Result<Value, String> {
        let node = self.node(path);
        match shape(&node, value) {
            Shape::Leaf => Ok(value.clone()),
            Shape::Object(map) => {
                let mut out = Map::new();
                for (key, child) in map {
                    let pe = PathElement::Field(key.clone());
                    if set.is_member(&pe) {
                        continue;
                    }
                    let child = match set.child(&pe) {
                        Some(sub) => {
                            path.push(SchemaStep::Field(key));
                            fp.push(pe);
                            let removed = self.remove_items(child, sub, path, fp);
                            fp.pop();
                            path.pop();
                            removed?
                        }
                        None => child.clone(),
                    };
                    out.insert(key.clone(), child);
                }
                Ok(Value::Object(out))
            }
            Shape::SetList(items) | Shape::MapList(items, ..) => {
                let (set_list, keys, defaults) = match shape(&node, value) {
                    Shape::MapList(_, keys, defaults) => (false, keys, defaults),
                    _ => (true, Vec::new(), Vec::new()),
                };
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let pe = item_element(item, i, set_list, &keys, &defaults, fp)?;
                    if set.is_member(&pe) {
                        continue;
                    }
                    let item = match set.child(&pe) {
                        Some(sub) => {
                            path.push(SchemaStep::Item);
                            fp.push(pe);
                            let removed = self.remove_items(item, sub, path, fp);
                            fp.pop();
                            path.pop();
                            removed?
                        }
                        None => item.clone(),
                    };
                    out.push(item);
                }
                Ok(Value::Array(out))
            }
        }
    }

    /// Adds declared struct fields that have owned descendants as members of the set
    /// (structured-merge-diff `EnsureNamedFieldsAreMembers`).
    fn ensure_named_fields(&self, set: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        self.ensure_walk(set, &mut Vec::new(), &mut out);
        out
    }

    fn ensure_walk<'p>(
        &self,
        set: &'p FieldSet,
        path: &mut Vec<SchemaStep<'p>>,
        out: &mut FieldSet,
    ) {
        let node = self.node(path);
        for member in set.members() {
            out.insert_member(member.clone());
        }
        for (pe, child) in set.children() {
            path.push(schema_step(pe));
            if matches!(pe, PathElement::Field(_)) && is_declared_field(&node, &self.node(path)) {
                out.insert_member(pe.clone());
            }
            self.ensure_walk(child, path, out.child_mut(pe));
            path.pop();
        }
    }

    /// Removes what the applier stopped applying and nobody else owns (structured-merge-diff
    /// `prune`, `addBackOwnedItems`, `addBackDanglingItems`).
    fn prune(
        &self,
        merged: Value,
        managers: &Managers,
        last: Option<&FieldSet>,
    ) -> Result<Value, String> {
        let Some(last) = last.filter(|l| !l.is_empty()) else {
            return Ok(merged);
        };
        let last = self.ensure_named_fields(last);
        let pruned = self.remove_items(&merged, &last, &mut Vec::new(), &mut Vec::new())?;
        let owned = managers
            .values()
            .fold(FieldSet::new(), |acc, m| acc.union(&m.set));
        let owned = self.ensure_named_fields(&owned);
        let merged_set = self.ensure_named_fields(&self.to_field_set(&merged, true)?);
        let pruned_set = self.ensure_named_fields(&self.to_field_set(&pruned, true)?);
        let pruned = self.remove_items(
            &merged,
            &merged_set.difference(&pruned_set.union(&owned)),
            &mut Vec::new(),
            &mut Vec::new(),
        )?;
        let pruned_set = self.ensure_named_fields(&self.to_field_set(&pruned, true)?);
        self.remove_items(
            &merged,
            &merged_set.difference(&pruned_set).intersection(&last),
            &mut Vec::new(),
            &mut Vec::new(),
        )
    }
}

/// Removes null fields from objects, recursively: an applied `null` leaves the field unset, as in a
/// typed object.
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Applies `applied` (an `application/apply-patch+yaml` body, decoded) as `fm.manager` to `live`
/// (`None` when the object does not exist yet: apply creates it).
///
/// Ownership comes from `live`'s `metadata.managedFields`. Fields the manager applied before and
/// no longer applies are removed unless another manager owns them; fields owned by other managers
/// that the configuration changes are conflicts unless `force`, which transfers their ownership.
///
/// Errors: 409 [`PatchError::Conflict`] with kube-apiserver's message and `FieldManagerConflict`
/// causes; 400 for an `apiVersion` other than `fm.api_version`, `metadata.managedFields` in the
/// configuration, a map-list item missing a key field, duplicate items, or undecodable live
/// `managedFields` (kube-apiserver answers these last ones with 500).
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    force: bool,
    fm: &FieldManager<'_>,
) -> Result<ApplyOutcome, PatchError> {
    if !applied.is_object() {
        return Err(PatchError::BadRequest(
            "apply patch must be an object".into(),
        ));
    }
    let patch_version = applied
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if patch_version != fm.api_version {
        return Err(PatchError::BadRequest(format!(
            "Incorrect version specified in apply patch. Specified patch version: {patch_version}, expected: {}",
            fm.api_version
        )));
    }
    if applied
        .pointer("/metadata/managedFields")
        .is_some_and(|v| !v.is_null())
    {
        return Err(PatchError::BadRequest(
            "metadata.managedFields must be nil".into(),
        ));
    }
    let walker = Walker { schema: fm.schema };
    let ignored = ignored_set(fm);
    let entries = match live {
        Some(live) => managed_fields_of(live)
            .map_err(|e| PatchError::BadRequest(format!("failed to decode managed fields: {e}")))?,
        None => Vec::new(),
    };
    let mut managers = decode_managers(&entries)
        .map_err(|e| PatchError::BadRequest(format!("failed to decode managed fields: {e}")))?;
    let live_value = live
        .map(without_managed_fields)
        .unwrap_or_else(|| Value::Object(Map::new()));
    let live_err =
        |e: String| PatchError::BadRequest(format!("failed to create typed live object: {e}"));
    let patch_err =
        |e: String| PatchError::BadRequest(format!("failed to create typed patch object: {e}"));
    let subresource = fm.subresource.unwrap_or("");

    if live.is_some() && managers.is_empty() {
        // an object nobody owns yet: everything in it belongs to "before-first-apply"
        let cmp = walker
            .compare(&Value::Object(Map::new()), &live_value)
            .map_err(live_err)?;
        let set = owned_part(&cmp.added.union(&cmp.modified), &ignored);
        if !set.is_empty() {
            managers.insert(
                manager_key(
                    BEFORE_FIRST_APPLY,
                    Operation::Update,
                    fm.api_version,
                    subresource,
                ),
                ManagerState {
                    set,
                    api_version: fm.api_version.to_string(),
                    time: Some(fm.time.to_string()),
                },
            );
        }
    }

    let merged = walker
        .merge(&live_value, applied, &mut Vec::new(), &mut Vec::new())
        .map_err(patch_err)?;
    let config_set = owned_part(
        &walker.to_field_set(applied, false).map_err(patch_err)?,
        &ignored,
    );
    let applier = manager_key(fm.manager, Operation::Apply, fm.api_version, subresource);
    let previous = managers.remove(&applier);
    let last = previous.as_ref().map(|p| p.set.clone());
    managers.insert(
        applier.clone(),
        ManagerState {
            set: config_set,
            api_version: fm.api_version.to_string(),
            time: previous.and_then(|p| p.time),
        },
    );
    let mut merged = walker
        .prune(merged, &managers, last.as_ref())
        .map_err(live_err)?;
    drop_nulls(&mut merged);

    let cmp = walker.compare(&live_value, &merged).map_err(live_err)?;
    let changed_paths = owned_part(&cmp.modified.union(&cmp.added), &ignored);
    let removed = cmp.removed;
    let mut conflicts = Vec::new();
    for (key, state) in &managers {
        if *key == applier {
            continue;
        }
        for path in state.set.intersection(&changed_paths).paths() {
            conflicts.push(Conflict {
                manager: key.manager.clone(),
                operation: key.operation,
                api_version: state.api_version.clone(),
                subresource: key.subresource.clone(),
                field_path: path,
            });
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(PatchError::Conflict(ApplyConflicts { conflicts }));
    }
    for (key, state) in managers.iter_mut() {
        if *key != applier {
            state.set = state.set.difference(&changed_paths).difference(&removed);
        }
    }
    managers.retain(|_, state| !state.set.is_empty());

    let changed = !json_equal(&merged, &live_value);
    if changed && let Some(state) = managers.get_mut(&applier) {
        state.time = Some(fm.time.to_string());
    }
    cap_update_managers(&mut managers);
    let managed_fields = encode_managers(&managers);
    let mut object = if changed { merged } else { live_value };
    set_managed_fields(&mut object, &managed_fields);
    Ok(ApplyOutcome {
        object,
        managed_fields,
        changed,
    })
}

/// The `metadata.managedFields` after a create, update or non-apply patch by `fm.manager` that
/// turned `old` (`None` on create) into `new`: the writer gains the fields it added or changed,
/// every manager loses the fields removed, and other managers lose the fields the writer changed.
///
/// Like kube-apiserver, starts from `new`'s `metadata.managedFields` when the client sent
/// decodable, non-empty ones on the main resource (direct edits of managedFields), else from
/// `old`'s; a single empty entry (`[{}]`) clears them. Never fails: as kube-apiserver does,
/// managedFields that cannot be computed are cleared (empty result).
pub fn update_managed_fields(
    old: Option<&Value>,
    new: &Value,
    fm: &FieldManager<'_>,
) -> Vec<ManagedFieldsEntry> {
    let requested = managed_fields_of(new).unwrap_or_default();
    if fm.subresource.is_none()
        && requested.len() == 1
        && requested[0] == ManagedFieldsEntry::default()
    {
        return Vec::new();
    }
    let from_request = match decode_managers(&requested) {
        Ok(m) if !m.is_empty() && fm.subresource.is_none() => Some(m),
        _ => None,
    };
    let managers = match from_request {
        Some(m) => m,
        None => {
            let entries = old.map(managed_fields_of).unwrap_or(Ok(Vec::new()));
            match entries.and_then(|e| decode_managers(&e)) {
                Ok(m) => m,
                Err(_) => return Vec::new(),
            }
        }
    };
    update_managers(old, new, managers, fm).unwrap_or_default()
}

fn update_managers(
    old: Option<&Value>,
    new: &Value,
    mut managers: Managers,
    fm: &FieldManager<'_>,
) -> Result<Vec<ManagedFieldsEntry>, String> {
    let walker = Walker { schema: fm.schema };
    let ignored = ignored_set(fm);
    let new_value = without_managed_fields(new);
    let old_value = match old {
        Some(old) => without_managed_fields(old),
        None => empty_like(&walker, &new_value),
    };
    let cmp = walker.compare(&old_value, &new_value)?;
    let taken = owned_part(&cmp.modified.union(&cmp.added), &ignored);
    for state in managers.values_mut() {
        state.set = state.set.difference(&taken).difference(&cmp.removed);
    }
    managers.retain(|_, state| !state.set.is_empty());
    if !taken.is_empty() {
        let key = manager_key(
            fm.manager,
            Operation::Update,
            fm.api_version,
            fm.subresource.unwrap_or(""),
        );
        let state = managers.entry(key).or_insert_with(|| ManagerState {
            set: FieldSet::new(),
            api_version: fm.api_version.to_string(),
            time: None,
        });
        state.set = state.set.union(&taken);
        state.time = Some(fm.time.to_string());
    }
    cap_update_managers(&mut managers);
    Ok(encode_managers(&managers))
}

/// What kube-apiserver compares a created object against: the empty object of its type, where
/// the top-level structs (`spec`, `status`) of a built-in kind already exist (they are not
/// pointers in the compiled types), so a create does not own them as a whole.
fn empty_like(walker: &Walker<'_>, new: &Value) -> Value {
    let mut empty = Map::new();
    if let (Value::Object(map), true) = (new, walker.schema.is_builtin()) {
        for key in map.keys().filter(|k| *k != "metadata") {
            if walker.node(&[SchemaStep::Field(key)]) == (NodeType::Struct { atomic: false }) {
                empty.insert(key.clone(), Value::Object(Map::new()));
            }
        }
    }
    Value::Object(empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{
        BuiltinListTypeInfo, KindKey, UntypedListTypeInfo, builtin_list_type_info,
    };
    use serde_json::json;

    const T1: &str = "2024-01-01T00:00:00Z";
    const T2: &str = "2024-01-01T00:00:05Z";

    fn deployment_schema() -> BuiltinListTypeInfo {
        builtin_list_type_info(&KindKey::new("apps", "v1", "Deployment")).unwrap()
    }

    fn fm<'a>(manager: &'a str, schema: &'a dyn ListTypeInfo, time: &'a str) -> FieldManager<'a> {
        FieldManager {
            manager,
            api_version: "apps/v1",
            subresource: None,
            time,
            schema,
            ignored_fields: &[],
        }
    }

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": image}]}
                }
            }
        })
    }

    fn applied(
        live: Option<&Value>,
        config: &Value,
        manager: &str,
        force: bool,
    ) -> Result<ApplyOutcome, PatchError> {
        let schema = deployment_schema();
        apply(live, config, force, &fm(manager, &schema, T2))
    }

    fn fields_of(object: &Value, manager: &str) -> Value {
        managed_fields_of(object)
            .unwrap()
            .into_iter()
            .find(|e| e.manager == manager)
            .and_then(|e| e.fields_v1)
            .unwrap_or(Value::Null)
    }

    #[test]
    fn apply_creates_and_records_fields_like_kube_apiserver() {
        let out = applied(None, &deployment(1, "nginx:1"), "a", false).unwrap();
        assert!(out.changed);
        assert_eq!(out.managed_fields.len(), 1);
        let entry = &out.managed_fields[0];
        assert_eq!(entry.manager, "a");
        assert_eq!(entry.operation, Some(Operation::Apply));
        assert_eq!(entry.api_version, "apps/v1");
        assert_eq!(entry.time.as_deref(), Some(T2));
        assert_eq!(entry.fields_type, "FieldsV1");
        assert_eq!(
            entry.fields_v1,
            Some(json!({
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}}}
                    }
                }
            }))
        );
        assert_eq!(out.object["spec"]["replicas"], json!(1));
        assert_eq!(
            serde_json::to_value(&out.managed_fields).unwrap(),
            out.object["metadata"]["managedFields"]
        );
        assert_eq!(
            out.object["metadata"]["managedFields"][0]["operation"],
            json!("Apply")
        );
    }

    #[test]
    fn applying_the_same_configuration_again_changes_nothing() {
        let first = applied(None, &deployment(1, "nginx:1"), "a", false).unwrap();
        let second = applied(Some(&first.object), &deployment(1, "nginx:1"), "a", false).unwrap();
        assert!(!second.changed);
        assert_eq!(second.object, first.object);
        // the time only moves when the object changes
        assert_eq!(second.managed_fields[0].time.as_deref(), Some(T2));
    }

    #[test]
    fn another_applier_changing_a_field_conflicts_unless_forced() {
        let live = applied(None, &deployment(1, "nginx:1"), "a", false)
            .unwrap()
            .object;
        let config = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3}});
        let err = applied(Some(&live), &config, "b", false).unwrap_err();
        let PatchError::Conflict(conflicts) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(err.code(), 409);
        assert_eq!(
            conflicts.message(),
            "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas"
        );
        assert_eq!(
            err.to_status(),
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas",
                "reason": "Conflict",
                "details": {"causes": [{"reason": "FieldManagerConflict", "message": "conflict with \"a\"", "field": ".spec.replicas"}]},
                "code": 409
            })
        );
        let forced = applied(Some(&live), &config, "b", true).unwrap();
        assert_eq!(forced.object["spec"]["replicas"], json!(3));
        assert_eq!(
            fields_of(&forced.object, "b"),
            json!({"f:spec": {"f:replicas": {}}})
        );
        assert!(
            fields_of(&forced.object, "a")["f:spec"]
                .get("f:replicas")
                .is_none()
        );
        assert!(
            fields_of(&forced.object, "a")["f:spec"]
                .get("f:template")
                .is_some()
        );
    }

    #[test]
    fn applying_the_same_value_shares_ownership() {
        let live = applied(None, &deployment(1, "nginx:1"), "a", false)
            .unwrap()
            .object;
        let config = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 1}});
        let out = applied(Some(&live), &config, "b", false).unwrap();
        assert!(!out.changed);
        assert!(
            fields_of(&out.object, "a")["f:spec"]
                .get("f:replicas")
                .is_some()
        );
        assert_eq!(
            fields_of(&out.object, "b"),
            json!({"f:spec": {"f:replicas": {}}})
        );
        // a stops applying replicas: b still owns it, so it stays
        let mut without = deployment(1, "nginx:1");
        without["spec"].as_object_mut().unwrap().remove("replicas");
        let out = applied(Some(&out.object), &without, "a", false).unwrap();
        assert_eq!(out.object["spec"]["replicas"], json!(1));
        // b stops applying it too: now it is removed
        let config = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"team": "x"}}});
        let out = applied(Some(&out.object), &config, "b", false).unwrap();
        assert!(
            out.object["spec"].get("replicas").is_none(),
            "{}",
            out.object
        );
        assert_eq!(
            out.object["metadata"]["labels"],
            json!({"app": "web", "team": "x"})
        );
    }

    #[test]
    fn fields_and_items_an_applier_stops_applying_are_removed() {
        let mut config = deployment(1, "nginx:1");
        config["metadata"]["labels"]["tier"] = json!("front");
        config["spec"]["template"]["spec"]["containers"] =
            json!([{"name": "nginx", "image": "nginx:1"}, {"name": "sidecar", "image": "s:1"}]);
        let live = applied(None, &config, "a", false).unwrap().object;
        let out = applied(Some(&live), &deployment(1, "nginx:1"), "a", false).unwrap();
        assert_eq!(out.object["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(
            out.object["spec"]["template"]["spec"]["containers"],
            json!([{"name": "nginx", "image": "nginx:1"}])
        );
        assert_eq!(
            fields_of(&out.object, "a"),
            fields_of(
                &applied(None, &deployment(1, "nginx:1"), "a", false)
                    .unwrap()
                    .object,
                "a"
            )
        );
    }

    #[test]
    fn fields_set_by_updates_are_not_pruned_by_an_applier() {
        let schema = deployment_schema();
        let live = applied(None, &deployment(1, "nginx:1"), "a", false)
            .unwrap()
            .object;
        // a controller adds an annotation with an update
        let mut updated = live.clone();
        updated["metadata"]["annotations"] = json!({"rev": "1"});
        let entries = update_managed_fields(Some(&live), &updated, &fm("controller", &schema, T2));
        set_managed_fields(&mut updated, &entries);
        let controller = fields_of(&updated, "controller");
        assert_eq!(
            controller,
            json!({"f:metadata": {"f:annotations": {".": {}, "f:rev": {}}}})
        );
        let out = applied(Some(&updated), &deployment(2, "nginx:1"), "a", false).unwrap();
        assert_eq!(out.object["metadata"]["annotations"], json!({"rev": "1"}));
        assert_eq!(out.object["spec"]["replicas"], json!(2));
    }

    #[test]
    fn conflicts_with_update_managers_name_their_version() {
        let schema = deployment_schema();
        let mut created = deployment(1, "nginx:1");
        let entries = update_managed_fields(None, &created, &fm("kubectl-create", &schema, T1));
        set_managed_fields(&mut created, &entries);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].operation, Some(Operation::Update));
        let fields = entries[0].fields_v1.clone().unwrap();
        // the labels map is new (owned as a whole), spec existed in the empty object
        assert_eq!(
            fields["f:metadata"],
            json!({"f:labels": {".": {}, "f:app": {}}})
        );
        assert!(fields["f:spec"].get(".").is_none());
        assert_eq!(fields["f:spec"]["f:replicas"], json!({}));
        let mut config = deployment(5, "nginx:2");
        config["metadata"]["labels"] = json!({"app": "web"});
        let err = applied(Some(&created), &config, "a", false).unwrap_err();
        let PatchError::Conflict(conflicts) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(
            conflicts.message(),
            "Apply failed with 2 conflicts: conflicts with \"kubectl-create\" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"nginx\"].image"
        );
        let causes = conflicts.causes();
        assert_eq!(causes.len(), 2);
        assert_eq!(
            causes[0].message,
            "conflict with \"kubectl-create\" using apps/v1"
        );
        assert_eq!(
            causes[1].field,
            ".spec.template.spec.containers[name=\"nginx\"].image"
        );
    }

    #[test]
    fn an_object_without_managed_fields_belongs_to_before_first_apply() {
        let live = deployment(1, "nginx:1");
        let err = applied(Some(&live), &deployment(2, "nginx:1"), "a", false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1: .spec.replicas"
        );
        let out = applied(Some(&live), &deployment(1, "nginx:1"), "a", false).unwrap();
        assert_eq!(out.managed_fields.len(), 2);
    }

    #[test]
    fn update_moves_ownership_of_changed_and_removed_fields() {
        let schema = deployment_schema();
        let live = applied(None, &deployment(1, "nginx:1"), "a", false)
            .unwrap()
            .object;
        let mut scaled = live.clone();
        scaled["spec"]["replicas"] = json!(4);
        scaled["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("app");
        let entries = update_managed_fields(Some(&live), &scaled, &fm("hpa", &schema, T2));
        set_managed_fields(&mut scaled, &entries);
        assert_eq!(
            fields_of(&scaled, "hpa"),
            json!({"f:spec": {"f:replicas": {}}})
        );
        let a = fields_of(&scaled, "a");
        assert!(a["f:spec"].get("f:replicas").is_none());
        assert!(a["f:metadata"]["f:labels"].get("f:app").is_none());
        // an update that changes nothing adds no entry and keeps the times
        let again = update_managed_fields(
            Some(&scaled),
            &scaled,
            &fm("other", &schema, "2030-01-01T00:00:00Z"),
        );
        assert_eq!(again, managed_fields_of(&scaled).unwrap());
    }

    #[test]
    fn managed_fields_sent_by_the_client_are_used_and_a_single_empty_entry_clears_them() {
        let schema = deployment_schema();
        let live = applied(None, &deployment(1, "nginx:1"), "a", false)
            .unwrap()
            .object;
        let mut cleared = live.clone();
        cleared["metadata"]["managedFields"] = json!([{}]);
        cleared["spec"]["replicas"] = json!(2);
        assert!(update_managed_fields(Some(&live), &cleared, &fm("x", &schema, T2)).is_empty());
        let mut edited = live.clone();
        edited["metadata"]["managedFields"] = json!([{"manager": "mine", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:paused": {}}}}]);
        let entries = update_managed_fields(Some(&live), &edited, &fm("x", &schema, T2));
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].manager, "mine");
        // an empty list keeps the stored ones
        let mut emptied = live.clone();
        emptied["metadata"]["managedFields"] = json!([]);
        let entries = update_managed_fields(Some(&live), &emptied, &fm("x", &schema, T2));
        assert_eq!(entries, managed_fields_of(&live).unwrap());
    }

    #[test]
    fn map_list_keys_use_server_defaults_and_missing_keys_are_bad_requests() {
        let mut config = deployment(1, "nginx:1");
        config["spec"]["template"]["spec"]["containers"][0]["ports"] =
            json!([{"containerPort": 80}]);
        config["spec"]["template"]["spec"]["containers"][0]["env"] =
            json!([{"name": "A", "value": "1"}]);
        let out = applied(None, &config, "a", false).unwrap();
        let container = &fields_of(&out.object, "a")["f:spec"]["f:template"]["f:spec"]["f:containers"]
            ["k:{\"name\":\"nginx\"}"];
        assert_eq!(
            container["f:ports"],
            json!({"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}})
        );
        assert_eq!(
            container["f:env"],
            json!({"k:{\"name\":\"A\"}": {".": {}, "f:name": {}, "f:value": {}}})
        );
        config["spec"]["template"]["spec"]["containers"][0]["env"] = json!([{"value": "1"}]);
        let err = applied(None, &config, "a", false).unwrap_err();
        assert_eq!(
            err,
            PatchError::BadRequest("failed to create typed patch object: .spec.template.spec.containers[name=\"nginx\"].env: element 0: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)".into())
        );
        config["spec"]["template"]["spec"]["containers"][0]["env"] =
            json!([{"name": "A"}, {"name": "A"}]);
        assert_eq!(applied(None, &config, "a", false).unwrap_err().code(), 400);
    }

    #[test]
    fn finalizers_are_a_set_list() {
        let mut config = deployment(1, "nginx:1");
        config["metadata"]["finalizers"] = json!(["example.com/a"]);
        let live = applied(None, &config, "a", false).unwrap().object;
        assert_eq!(
            fields_of(&live, "a")["f:metadata"]["f:finalizers"],
            json!({"v:\"example.com/a\"": {}})
        );
        let mut other = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "finalizers": ["example.com/b"]}});
        let live = applied(Some(&live), &other, "b", false).unwrap().object;
        assert_eq!(
            live["metadata"]["finalizers"],
            json!(["example.com/a", "example.com/b"])
        );
        other["metadata"]["finalizers"] = json!([]);
        let live = applied(Some(&live), &other, "b", false).unwrap().object;
        assert_eq!(live["metadata"]["finalizers"], json!(["example.com/a"]));
    }

    #[test]
    fn bad_apply_requests() {
        let mut config = deployment(1, "nginx:1");
        config["apiVersion"] = json!("apps/v1beta1");
        assert_eq!(
            applied(None, &config, "a", false).unwrap_err(),
            PatchError::BadRequest("Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1".into())
        );
        let mut config = deployment(1, "nginx:1");
        config["metadata"]["managedFields"] = json!([]);
        assert_eq!(
            applied(None, &config, "a", false).unwrap_err(),
            PatchError::BadRequest("metadata.managedFields must be nil".into())
        );
        let mut live = deployment(1, "nginx:1");
        live["metadata"]["managedFields"] = json!([{"manager": "x", "operation": "Apply", "apiVersion": "apps/v1", "fieldsType": "FieldsV2"}]);
        assert_eq!(
            applied(Some(&live), &deployment(1, "x"), "a", false)
                .unwrap_err()
                .code(),
            400
        );
    }

    #[test]
    fn ignored_fields_are_not_owned() {
        let schema = deployment_schema();
        let status_path = [FieldPath::fields(&["status"])];
        let manager = FieldManager {
            ignored_fields: &status_path,
            ..fm("a", &schema, T1)
        };
        let mut config = deployment(1, "nginx:1");
        config["status"] = json!({"replicas": 1});
        let out = apply(None, &config, false, &manager).unwrap();
        assert!(fields_of(&out.object, "a").get("f:status").is_none());
    }

    #[test]
    fn subresource_managers_are_separate_entries() {
        let schema = deployment_schema();
        let live = applied(None, &deployment(1, "nginx:1"), "a", false)
            .unwrap()
            .object;
        let mut with_status = live.clone();
        with_status["status"] = json!({"replicas": 1});
        let manager = FieldManager {
            subresource: Some("status"),
            ..fm("kcm", &schema, T2)
        };
        let entries = update_managed_fields(Some(&live), &with_status, &manager);
        let kcm = entries.iter().find(|e| e.manager == "kcm").unwrap();
        assert_eq!(kcm.subresource, "status");
        assert_eq!(
            kcm.fields_v1,
            Some(json!({"f:status": {".": {}, "f:replicas": {}}}))
        );
        // entries are sorted: Apply before Update
        assert_eq!(entries[0].operation, Some(Operation::Apply));
        let json = serde_json::to_value(kcm).unwrap();
        assert_eq!(json["subresource"], json!("status"));
    }

    #[test]
    fn untyped_objects_own_every_map_and_lists_atomically() {
        let schema = UntypedListTypeInfo;
        let manager = FieldManager {
            api_version: "example.com/v1",
            ..fm("a", &schema, T1)
        };
        let config = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"foo": {"bar": 1}, "list": [1, 2]}});
        let out = apply(None, &config, false, &manager).unwrap();
        assert_eq!(
            out.managed_fields[0].fields_v1,
            Some(json!({"f:spec": {".": {}, "f:foo": {".": {}, "f:bar": {}}, "f:list": {}}}))
        );
        let entries = update_managed_fields(
            None,
            &config,
            &FieldManager {
                manager: "c",
                ..manager
            },
        );
        assert_eq!(
            entries[0].fields_v1,
            Some(json!({"f:spec": {".": {}, "f:foo": {".": {}, "f:bar": {}}, "f:list": {}}}))
        );
    }

    #[test]
    fn custom_resources_use_their_schema_list_types() {
        let schema = crate::CustomResourceListTypeInfo::new(&json!({
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["port", "protocol"],
                    "items": {"type": "object", "properties": {
                        "port": {"type": "integer"},
                        "protocol": {"type": "string", "default": "TCP"},
                        "name": {"type": "string"}
                    }}
                },
                "size": {"type": "integer"}
            }}}
        }));
        let manager = FieldManager {
            api_version: "example.com/v1",
            ..fm("a", &schema, T1)
        };
        let config = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "finalizers": ["f"]}, "spec": {"size": 1, "ports": [{"port": 80, "name": "http"}]}});
        let out = apply(None, &config, false, &manager).unwrap();
        assert_eq!(
            out.managed_fields[0].fields_v1,
            Some(json!({
                "f:metadata": {"f:finalizers": {"v:\"f\"": {}}},
                "f:spec": {
                    "f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}, "f:port": {}}},
                    "f:size": {}
                }
            }))
        );
        let other = FieldManager {
            manager: "b",
            ..manager
        };
        let change = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"ports": [{"port": 80, "name": "web"}]}});
        let err = apply(Some(&out.object), &change, false, &other).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"a\": .spec.ports[port=80,protocol=\"TCP\"].name"
        );
    }

    #[test]
    fn update_managers_are_capped_at_ten() {
        let schema = deployment_schema();
        let mut object = applied(None, &deployment(1, "nginx:1"), "a", false)
            .unwrap()
            .object;
        for i in 0..12 {
            let mut next = object.clone();
            next["metadata"]["annotations"] = json!({format!("k{i}"): "v"});
            let time = format!("2024-01-01T00:01:{i:02}Z");
            let entries =
                update_managed_fields(Some(&object), &next, &fm(&format!("m{i}"), &schema, &time));
            set_managed_fields(&mut next, &entries);
            object = next;
        }
        let entries = managed_fields_of(&object).unwrap();
        let updates: Vec<_> = entries
            .iter()
            .filter(|e| e.operation == Some(Operation::Update))
            .collect();
        assert!(updates.len() <= MAX_UPDATE_MANAGERS, "{updates:?}");
    }

    #[test]
    fn list_merge_keeps_live_only_items_in_place() {
        // property-style: for a few live/applied item orders, every item survives exactly once
        let schema = deployment_schema();
        let names = [vec!["a", "b", "c"], vec!["c", "a"], vec!["d"], vec![]];
        for live_names in &names {
            for applied_names in &names {
                let mut live = deployment(1, "x");
                live["spec"]["template"]["spec"]["containers"] = json!(
                    live_names
                        .iter()
                        .map(|n| json!({"name": n}))
                        .collect::<Vec<_>>()
                );
                let mut config = deployment(1, "x");
                config["spec"]["template"]["spec"]["containers"] = json!(
                    applied_names
                        .iter()
                        .map(|n| json!({"name": n, "image": "i"}))
                        .collect::<Vec<_>>()
                );
                let walker = Walker { schema: &schema };
                let merged = walker
                    .merge(&live, &config, &mut Vec::new(), &mut Vec::new())
                    .unwrap();
                let got: Vec<&str> = merged["spec"]["template"]["spec"]["containers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["name"].as_str().unwrap())
                    .collect();
                let mut want: Vec<&str> = live_names
                    .iter()
                    .chain(applied_names.iter())
                    .copied()
                    .collect();
                want.sort();
                want.dedup();
                let mut sorted = got.clone();
                sorted.sort();
                assert_eq!(sorted, want, "{live_names:?} + {applied_names:?} = {got:?}");
                // applied items keep their relative order
                let positions: Vec<usize> = applied_names
                    .iter()
                    .map(|n| got.iter().position(|g| g == n).unwrap())
                    .collect();
                assert!(positions.windows(2).all(|w| w[0] < w[1]), "{got:?}");
            }
        }
    }
}
