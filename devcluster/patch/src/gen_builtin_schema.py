#!/usr/bin/env python3
"""Generates builtin_schema.rs: merge semantics of the built-in Kubernetes kinds.

Input: the `_definitions.json` of the Kubernetes v1.33 OpenAPI definitions as shipped, converted to JSON
schema, by the PyPI package kubernetes-validate 1.37.0
(kubernetes_validate/kubernetes-json-schema/v1.33.0-local/_definitions.json). It keeps the OpenAPI
extensions x-kubernetes-patch-strategy, x-kubernetes-patch-merge-key, x-kubernetes-list-type,
x-kubernetes-list-map-keys, x-kubernetes-map-type and x-kubernetes-group-version-kind.

Usage: python3 gen_builtin_schema.py path/to/_definitions.json > builtin_schema.rs
       cargo fmt -p devcluster

Only what changes merge behaviour is kept: fields holding scalars are dropped (an unknown field is
treated as a scalar or untyped value, which merges the same), and so is the item type of atomic lists
that have no patch strategy.
"""
import json
import sys

defs = json.load(open(sys.argv[1]))["$defs"]
REF = "#/$defs/"

# Key fields with a server-side default (`+default=` markers): structured-merge-diff uses the default
# when an applied list item omits the key (kubernetes PR 98576).
KEY_DEFAULTS = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
}


def kind_of(name):
    s = defs[name]
    if "properties" in s:
        return "struct"
    t = s.get("type")
    if t == ["object", "null"] or t == "object" or s == {} or (isinstance(s, dict) and set(s) == {"description"}):
        return "untyped"
    return "scalar"


ATOMIC_SCALARS = "Ty::List(&ListDef { items: Ty::Scalar, kind: ListKind::Atomic })"
types = []  # struct definition names, by index
index = {}


def type_index(name):
    if name not in index:
        index[name] = len(types)
        types.append(name)
    return index[name]


def rust_str(s):
    return json.dumps(s)


def ty(schema):
    """Rust expression of a `Ty` for a property/items/additionalProperties schema."""
    if "$ref" in schema:
        name = schema["$ref"][len(REF):]
        k = kind_of(name)
        if k == "struct":
            return "Ty::Struct(%d)" % type_index(name)
        return "Ty::Untyped" if k == "untyped" else "Ty::Scalar"
    t = schema.get("type")
    if isinstance(t, list):
        t = [x for x in t if x != "null"][0] if len([x for x in t if x != "null"]) == 1 else None
    if t == "array":
        return list_ty(schema, schema)
    if t == "object":
        if "additionalProperties" in schema:
            inner = ty(schema["additionalProperties"])
            if schema.get("x-kubernetes-map-type") == "atomic":
                return "Ty::AtomicMap(&%s)" % inner
            return "Ty::Map(&%s)" % inner
        return "Ty::Untyped"
    if t is None and not schema:
        return "Ty::Untyped"
    return "Ty::Scalar"


def list_ty(schema, ext):
    lt = ext.get("x-kubernetes-list-type")
    strategy = ext.get("x-kubernetes-patch-strategy", "")
    merge_key = ext.get("x-kubernetes-patch-merge-key")
    if lt == "map":
        kind = "ListKind::Map(&[%s])" % ", ".join(rust_str(k) for k in ext["x-kubernetes-list-map-keys"])
    elif lt == "set":
        kind = "ListKind::Set"
    elif lt == "atomic":
        kind = "ListKind::Atomic"
    elif "merge" in strategy.split(","):
        # structured-merge-diff's conversion of patch metadata without a list type
        kind = "ListKind::Map(&[%s])" % rust_str(merge_key) if merge_key else "ListKind::Set"
    else:
        kind = "ListKind::Atomic"
    if kind == "ListKind::Atomic" and not strategy:
        items = "Ty::Scalar"
    else:
        items = ty(schema.get("items", {}))
    return "Ty::List(&ListDef { items: %s, kind: %s })" % (items, kind)


gvks = []
for name, s in defs.items():
    for gvk in s.get("x-kubernetes-group-version-kind", []):
        props = s.get("properties", {})
        is_list = gvk["kind"].endswith("List") and "items" in props
        if kind_of(name) == "struct" and "metadata" in props and not is_list:
            gvks.append((gvk["group"], gvk["version"], gvk["kind"], type_index(name)))
gvks.sort()

out_types = []
i = 0
while i < len(types):
    name = types[i]
    s = defs[name]
    fields = []
    for fname in sorted(s["properties"]):
        p = s["properties"][fname]
        strategy = p.get("x-kubernetes-patch-strategy", "")
        merge_key = p.get("x-kubernetes-patch-merge-key")
        t = ty(p)
        key_default = KEY_DEFAULTS.get((name, fname))
        if t in ("Ty::Scalar", ATOMIC_SCALARS) and not strategy and key_default is None:
            continue
        flags = []
        for part in strategy.split(","):
            if part:
                flags.append({"merge": "MERGE", "retainKeys": "RETAIN_KEYS", "replace": "REPLACE"}[part])
        fields.append(
            "FieldDef { name: %s, ty: %s, strategy: %s, merge_key: %s, key_default: %s }"
            % (
                rust_str(fname),
                t,
                " | ".join(flags) if flags else "0",
                "Some(%s)" % rust_str(merge_key) if merge_key else "None",
                "Some(%s)" % rust_str(key_default) if key_default else "None",
            )
        )
    atomic = "true" if s.get("x-kubernetes-map-type") == "atomic" else "false"
    out_types.append(
        "    TypeDef {\n        name: %s,\n        atomic: %s,\n        fields: &[\n%s        ],\n    },"
        % (rust_str(name), atomic, "".join("            %s,\n" % f for f in fields))
    )
    i += 1

print("// @generated by gen_builtin_schema.py from the Kubernetes v1.33 OpenAPI definitions; do not edit.")
print("// Merge semantics (patch strategies, merge keys, list and map types) of the built-in kinds.")
print()
print("use super::schema::{FieldDef, ListDef, ListKind, MERGE, REPLACE, RETAIN_KEYS, Ty, TypeDef};")
print()
print("/// (group, version, kind, index into [`TYPES`]) of every built-in kind, sorted.")
print("pub(super) static KINDS: &[(&str, &str, &str, u16)] = &[")
for g, v, k, t in gvks:
    print("    (%s, %s, %s, %d)," % (rust_str(g), rust_str(v), rust_str(k), t))
print("];")
print()
print("/// Struct types reachable from the kinds; fields sorted by name, scalar fields left out.")
print("pub(super) static TYPES: &[TypeDef] = &[")
for t in out_types:
    print(t)
print("];")
