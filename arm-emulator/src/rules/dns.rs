//! Microsoft.Network's DNS zones (public `dnszones` and `privateDnsZones`): public zones and record
//! sets complete at once, private zones and their virtual network links are long-running, and a
//! public zone is given Azure's name servers. Like the rest of Microsoft.Network, creates report
//! `Updating`, writes get etags, and links to network resources are checked.

use super::network::{check_links, network_traits};
use super::{Children, Context, ProviderRules, Put, TypeTraits};
use crate::error::ApiError;
use serde_json::{Value, json};

/// The top-level types (after `Microsoft.Network/`, lowercase) these rules cover.
pub(crate) const TOP_TYPES: &[&str] = &["dnszones", "privatednszones"];

/// Record set types of a private zone (complete at once, unlike the zone and its links).
const RECORD_TYPES: &[&str] = &[
    "a", "aaaa", "caa", "cname", "mx", "ns", "ptr", "soa", "srv", "txt",
];

const DNS_ZONE: &str = "microsoft.network/dnszones";

/// The rules of DNS zones.
pub(crate) struct Dns;

impl ProviderRules for Dns {
    fn traits(&self, type_lower: &str) -> TypeTraits {
        let long_running = if type_lower.starts_with(DNS_ZONE) {
            false
        } else if let Some(rest) = type_lower.strip_prefix("microsoft.network/privatednszones/") {
            !RECORD_TYPES.contains(&rest)
        } else {
            true
        };
        TypeTraits {
            long_running,
            ..network_traits()
        }
    }

    fn prepare_put(
        &self,
        cx: &Context<'_>,
        put: &Put<'_>,
        body: &mut Value,
    ) -> Result<Children, ApiError> {
        check_links(cx, &put.write_action(), put.id, body)?;
        Ok(Children::default())
    }

    fn complete(&self, put: &Put<'_>, stored: &mut Value) {
        if put.resource_type.eq_ignore_ascii_case(DNS_ZONE) {
            stored["properties"]["nameServers"] = json!([
                "ns1-01.azure-dns.com.",
                "ns2-01.azure-dns.net.",
                "ns3-01.azure-dns.org.",
                "ns4-01.azure-dns.info."
            ]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::{Route, parse};

    #[test]
    fn public_zones_get_name_servers_and_record_sets_do_not() {
        let zone =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/dnszones/example.com";
        for (id, servers) in [(zone.to_string(), true), (format!("{zone}/A/www"), false)] {
            let Ok(Route::Provider(path)) = parse(&id) else {
                panic!("{id}")
            };
            let resource_type = path.resource_type();
            let put = Put {
                path: &path,
                id: &id,
                resource_type: &resource_type,
                existing: None,
                location: None,
                base_url: "http://arm.test",
                tenant_id: "t",
            };
            let mut stored = json!({"properties": {}});
            Dns.complete(&put, &mut stored);
            assert_eq!(
                stored["properties"]["nameServers"].is_array(),
                servers,
                "{id}"
            );
            assert!(!Dns.traits(&resource_type.to_ascii_lowercase()).long_running);
        }
    }
}
