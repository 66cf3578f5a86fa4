//! ARM resource ids, split into their parts: the one parser of ids for every crate (the RP's
//! validation and actions, the operator's subnet checks, the SDK clients' arguments).

use crate::Error;

/// A parsed ARM resource id: `/subscriptions/{s}/resourceGroups/{g}/providers/{ns}/{type}/{name}[/{type}/{name}]*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceId {
    /// Subscription id.
    pub subscription: String,
    /// Resource group name.
    pub resource_group: String,
    /// Provider namespace, e.g. `Microsoft.Network`.
    pub namespace: String,
    /// `(type, name)` pairs from the top-level resource down, e.g.
    /// `[("virtualNetworks", "vnet"), ("subnets", "master")]`.
    pub segments: Vec<(String, String)>,
}

impl ResourceId {
    /// Parses an id (case preserved; segment keywords matched case-insensitively).
    pub fn parse(id: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidResourceId(id.to_string());
        let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
        if parts.len() < 8
            || !parts[0].eq_ignore_ascii_case("subscriptions")
            || !parts[2].eq_ignore_ascii_case("resourceGroups")
            || !parts[4].eq_ignore_ascii_case("providers")
            || parts.iter().any(|p| p.is_empty())
            || !(parts.len() - 6).is_multiple_of(2)
        {
            return Err(invalid());
        }
        Ok(Self {
            subscription: parts[1].to_string(),
            resource_group: parts[3].to_string(),
            namespace: parts[5].to_string(),
            segments: parts[6..]
                .chunks(2)
                .map(|c| (c[0].to_string(), c[1].to_string()))
                .collect(),
        })
    }

    /// Splits a resource group's id, `/subscriptions/{s}/resourceGroups/{g}`, into
    /// `(subscription, resource group)` (case preserved; keywords matched case-insensitively).
    pub fn parse_resource_group(id: &str) -> Result<(String, String), Error> {
        match id
            .trim_matches('/')
            .split('/')
            .collect::<Vec<_>>()
            .as_slice()
        {
            [s, sub, r, rg]
                if s.eq_ignore_ascii_case("subscriptions")
                    && r.eq_ignore_ascii_case("resourceGroups")
                    && !sub.is_empty()
                    && !rg.is_empty() =>
            {
                Ok((sub.to_string(), rg.to_string()))
            }
            _ => Err(Error::InvalidResourceId(id.to_string())),
        }
    }

    /// Name of the addressed resource (the last segment).
    pub fn name(&self) -> &str {
        self.segments
            .last()
            .map(|(_, n)| n.as_str())
            .unwrap_or_default()
    }

    /// Name of the top-level resource (e.g. the VNet of a subnet).
    pub fn top_name(&self) -> &str {
        self.segments
            .first()
            .map(|(_, n)| n.as_str())
            .unwrap_or_default()
    }

    /// `Namespace/type[/subtype]`.
    pub fn resource_type(&self) -> String {
        let mut t = self.namespace.clone();
        for (ty, _) in &self.segments {
            t.push('/');
            t.push_str(ty);
        }
        t
    }

    /// Whether the resource is of this type (case-insensitive), e.g. `Microsoft.Network/virtualNetworks/subnets`.
    pub fn is_type(&self, resource_type: &str) -> bool {
        self.resource_type().eq_ignore_ascii_case(resource_type)
    }

    /// The parent resource's id, for a child resource.
    pub fn parent(&self) -> Option<ResourceId> {
        (self.segments.len() > 1).then(|| {
            let mut parent = self.clone();
            parent.segments.pop();
            parent
        })
    }

    /// The resource group's id.
    pub fn resource_group_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}",
            self.subscription, self.resource_group
        )
    }

    /// The id as a `scope` argument of the authorization SDK, which adds its own leading slash.
    pub fn as_scope(&self) -> String {
        self.to_string().trim_start_matches('/').to_string()
    }
}

impl std::fmt::Display for ResourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "/subscriptions/{}/resourceGroups/{}/providers/{}",
            self.subscription, self.resource_group, self.namespace
        )?;
        for (t, n) in &self.segments {
            write!(f, "/{t}/{n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_ids_split_into_sdk_arguments() {
        let id = ResourceId::parse("/subscriptions/S/resourcegroups/RG/providers/Microsoft.Network/virtualNetworks/V/subnets/master").unwrap();
        assert_eq!(id.subscription, "S");
        assert_eq!(id.resource_group, "RG");
        assert_eq!(id.top_name(), "V");
        assert_eq!(id.name(), "master");
        assert!(id.is_type("microsoft.network/virtualnetworks/subnets"));
        let vnet = id.parent().unwrap();
        assert_eq!(
            vnet.to_string(),
            "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/V"
        );
        assert_eq!(vnet.parent(), None);
        assert_eq!(
            vnet.as_scope(),
            "subscriptions/S/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/V"
        );
        assert_eq!(id.resource_group_id(), "/subscriptions/S/resourceGroups/RG");
    }

    #[test]
    fn resource_group_ids_split_case_insensitively() {
        assert_eq!(
            ResourceId::parse_resource_group("/subscriptions/s/resourceGroups/aro-x").unwrap(),
            ("s".into(), "aro-x".into())
        );
        assert_eq!(
            ResourceId::parse_resource_group("/SUBSCRIPTIONS/s/RESOURCEGROUPS/rg/").unwrap(),
            ("s".into(), "rg".into())
        );
        for bad in [
            "",
            "/subscriptions/s",
            "/subscriptions//resourceGroups/rg",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network",
        ] {
            assert!(ResourceId::parse_resource_group(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn malformed_ids_are_errors() {
        for bad in [
            "",
            "/subscriptions/S",
            "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks",
            "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/V/subnets",
            "/subs/S/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/V",
            "/subscriptions/S/resourceGroups//providers/Microsoft.Network/virtualNetworks/V",
        ] {
            assert!(ResourceId::parse(bad).is_err(), "{bad}");
        }
    }
}
