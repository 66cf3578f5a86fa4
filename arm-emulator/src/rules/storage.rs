//! Microsoft.Storage: storage accounts report their data-plane endpoints (`primaryEndpoints.blob`
//! and `.web`), which the emulator serves itself under its own address (`server`'s blob routes):
//! `{base}/_blob/{account}/` for the Blob service and `{base}/_web/{account}/` for the static
//! website (the `$web` container), where Azure has `https://{account}.blob.core.windows.net/` and
//! `https://{account}.z13.web.core.windows.net/`. Everything else about storage accounts is generic.

use super::{ProviderRules, Put};
use crate::path::last_segment;
use serde_json::{Value, json};

/// Type key of storage accounts.
pub const STORAGE_ACCOUNT: &str = "microsoft.storage/storageaccounts";
/// Path prefix of the emulated Blob service.
pub const BLOB_PREFIX: &str = "/_blob";
/// Path prefix of the emulated static websites.
pub const WEB_PREFIX: &str = "/_web";
/// The container a static website serves.
pub const WEB_CONTAINER: &str = "$web";

/// The rules of Microsoft.Storage.
pub(crate) struct Storage;

/// The data-plane endpoints of `account` on an emulator at `base_url`.
pub fn endpoints(base_url: &str, account: &str) -> Value {
    let base = base_url.trim_end_matches('/');
    json!({
        "blob": format!("{base}{BLOB_PREFIX}/{account}/"),
        "web": format!("{base}{WEB_PREFIX}/{account}/"),
    })
}

impl ProviderRules for Storage {
    fn complete(&self, put: &Put<'_>, stored: &mut Value) {
        if put.resource_type.eq_ignore_ascii_case(STORAGE_ACCOUNT) {
            stored["properties"]["primaryEndpoints"] =
                endpoints(put.base_url, last_segment(put.id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_live_under_the_emulator() {
        let e = endpoints("http://127.0.0.1:9/", "oidc1");
        assert_eq!(e["blob"], "http://127.0.0.1:9/_blob/oidc1/");
        assert_eq!(e["web"], "http://127.0.0.1:9/_web/oidc1/");
    }
}
