//! Cluster runtimes: the pluggable step that brings an OpenShift cluster up. Built so far: the seed
//! of the local runtime ([`seed`]), the objects a freshly installed OpenShift cluster exposes.

pub mod seed;
