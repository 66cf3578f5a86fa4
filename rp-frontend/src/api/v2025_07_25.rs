//! API version 2025-07-25: the TypeSpec-generated successor of 2024-08-12-preview. Its wire types
//! are those of 2024-08-12-preview (VM sizes are plain strings in both here, `oidcIssuer` is
//! read-only in both); immutability follows an explicit policy, which our shared immutability
//! check already implements.

pub use super::v2024_08_12_preview::*;
