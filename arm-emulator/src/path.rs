//! ARM URL shapes: what a request path addresses, the keys ids are matched by, and locations as
//! ARM normalises them.
//!
//! ARM resource ids are `{scope}/providers/{namespace}/{type}/{name}[/{type}/{name}]*` where the scope
//! is a subscription, a resource group or (for extension resources such as role assignments) any
//! other resource id. Splitting at the *last* `/providers/` segment therefore yields the scope and
//! the provider-relative part for every shape.

/// The scope a provider path hangs off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// The scope path as written (case preserved), e.g. `/subscriptions/s/resourceGroups/rg`.
    pub path: String,
    /// Subscription id (case preserved).
    pub subscription: String,
    /// Resource group name, when the scope is a group or something inside one.
    pub resource_group: Option<String>,
    /// Whether the scope is itself a resource (an extension resource's parent).
    pub is_resource: bool,
}

impl Scope {
    /// The id of the resource group this scope lives in, if any.
    pub fn resource_group_id(&self) -> Option<String> {
        self.resource_group
            .as_ref()
            .map(|rg| format!("/subscriptions/{}/resourceGroups/{rg}", self.subscription))
    }
}

/// A provider-relative path: namespace plus alternating type and name segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderPath {
    /// Where the provider path hangs off.
    pub scope: Scope,
    /// Resource provider namespace, e.g. `Microsoft.Network`.
    pub namespace: String,
    /// Segments after the namespace: `type, name, type, name, ...` (possibly ending with a type).
    pub segments: Vec<String>,
}

impl ProviderPath {
    /// The full id of the instance made of the first `len` segments (`len` even).
    pub fn id_of(&self, len: usize) -> String {
        let mut id = format!("{}/providers/{}", self.scope.path, self.namespace);
        for s in &self.segments[..len] {
            id.push('/');
            id.push_str(s);
        }
        id
    }

    /// `Namespace/type[/subtype...]` of the instance made of the first `len` segments.
    pub fn type_of(&self, len: usize) -> String {
        let mut t = self.namespace.clone();
        for s in self.segments[..len].iter().step_by(2) {
            t.push('/');
            t.push_str(s);
        }
        t
    }

    /// Whether the path addresses one instance (an even number of segments, at least two).
    pub fn is_instance(&self) -> bool {
        !self.segments.is_empty() && self.segments.len().is_multiple_of(2)
    }

    /// The instance id when the path is an instance.
    pub fn instance_id(&self) -> String {
        self.id_of(self.segments.len() - self.segments.len() % 2)
    }

    /// Resource type of the instance or, for a collection, of the collection's members.
    pub fn resource_type(&self) -> String {
        let mut t = self.namespace.clone();
        for s in self.segments.iter().step_by(2) {
            t.push('/');
            t.push_str(s);
        }
        t
    }

    /// Lowercased type names after the namespace, e.g. `["virtualnetworks", "subnets"]`.
    pub fn type_names(&self) -> Vec<String> {
        self.segments
            .iter()
            .step_by(2)
            .map(|s| s.to_ascii_lowercase())
            .collect()
    }

    /// Lowercased namespace.
    pub fn ns(&self) -> String {
        self.namespace.to_ascii_lowercase()
    }

    /// Whether the path hangs directly off a subscription (not a group or a resource).
    pub fn at_subscription(&self) -> bool {
        self.scope.resource_group.is_none() && !self.scope.is_resource
    }
}

/// What a request path addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/subscriptions`
    Subscriptions,
    /// `/subscriptions/{sub}`
    Subscription { subscription: String },
    /// `/subscriptions/{sub}/resourcegroups`
    ResourceGroups { subscription: String },
    /// `/subscriptions/{sub}/resourcegroups/{rg}`
    ResourceGroup { subscription: String, name: String },
    /// `/subscriptions/{sub}/resources` or `/subscriptions/{sub}/resourcegroups/{rg}/resources`
    GenericResources {
        subscription: String,
        resource_group: Option<String>,
    },
    /// `/subscriptions/{sub}/providers`
    Providers { subscription: String },
    /// `/subscriptions/{sub}/operationresults/{id}` (resource group deletion)
    SubscriptionOperationResult { subscription: String, id: String },
    /// Everything under a `/providers/{namespace}` segment.
    Provider(ProviderPath),
}

/// Why a path is not an ARM path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotArmPath;

/// Parses a decoded request path (without query).
pub fn parse(path: &str) -> Result<Route, NotArmPath> {
    let trimmed = path.trim_end_matches('/');
    let segs: Vec<&str> = trimmed.split('/').skip(1).collect();
    if segs.iter().any(|s| s.is_empty()) || segs.is_empty() {
        return Err(NotArmPath);
    }
    if !segs[0].eq_ignore_ascii_case("subscriptions") {
        return Err(NotArmPath);
    }
    if segs.len() == 1 {
        return Ok(Route::Subscriptions);
    }
    let subscription = segs[1].to_string();
    // Position of the last `providers` segment that is followed by a namespace.
    let last_providers = segs
        .iter()
        .enumerate()
        .skip(2)
        .filter(|(_, s)| s.eq_ignore_ascii_case("providers"))
        .map(|(i, _)| i)
        .next_back();
    match last_providers {
        Some(i) if i + 1 < segs.len() => {
            let scope_segs = &segs[..i];
            let scope = parse_scope(scope_segs, &subscription)?;
            Ok(Route::Provider(ProviderPath {
                scope,
                namespace: segs[i + 1].to_string(),
                segments: segs[i + 2..].iter().map(|s| s.to_string()).collect(),
            }))
        }
        Some(i) if i == 2 && segs.len() == 3 => Ok(Route::Providers { subscription }),
        Some(_) => Err(NotArmPath),
        None => match segs.len() {
            2 => Ok(Route::Subscription { subscription }),
            3 if segs[2].eq_ignore_ascii_case("resourcegroups") => {
                Ok(Route::ResourceGroups { subscription })
            }
            3 if segs[2].eq_ignore_ascii_case("resources") => Ok(Route::GenericResources {
                subscription,
                resource_group: None,
            }),
            4 if segs[2].eq_ignore_ascii_case("resourcegroups") => Ok(Route::ResourceGroup {
                subscription,
                name: segs[3].to_string(),
            }),
            4 if segs[2].eq_ignore_ascii_case("operationresults") => {
                Ok(Route::SubscriptionOperationResult {
                    subscription,
                    id: segs[3].to_string(),
                })
            }
            5 if segs[2].eq_ignore_ascii_case("resourcegroups")
                && segs[4].eq_ignore_ascii_case("resources") =>
            {
                Ok(Route::GenericResources {
                    subscription,
                    resource_group: Some(segs[3].to_string()),
                })
            }
            _ => Err(NotArmPath),
        },
    }
}

fn parse_scope(segs: &[&str], subscription: &str) -> Result<Scope, NotArmPath> {
    let path = format!("/{}", segs.join("/"));
    match segs.len() {
        2 => Ok(Scope {
            path,
            subscription: subscription.to_string(),
            resource_group: None,
            is_resource: false,
        }),
        4 if segs[2].eq_ignore_ascii_case("resourcegroups") => Ok(Scope {
            path,
            subscription: subscription.to_string(),
            resource_group: Some(segs[3].to_string()),
            is_resource: false,
        }),
        n if n > 4 && segs[2].eq_ignore_ascii_case("resourcegroups") => Ok(Scope {
            path,
            subscription: subscription.to_string(),
            resource_group: Some(segs[3].to_string()),
            is_resource: true,
        }),
        n if n > 4 && segs[2].eq_ignore_ascii_case("providers") => Ok(Scope {
            path,
            subscription: subscription.to_string(),
            resource_group: None,
            is_resource: true,
        }),
        _ => Err(NotArmPath),
    }
}

/// Canonical id of a resource group.
pub fn resource_group_id(subscription: &str, name: &str) -> String {
    format!("/subscriptions/{subscription}/resourceGroups/{name}")
}

/// The lowercase key ARM ids are matched by.
pub fn key(id: &str) -> String {
    id.trim_end_matches('/').to_ascii_lowercase()
}

/// Whether `inner` equals `outer` or lies below it (case-insensitive, on segment boundaries).
pub fn is_within(inner: &str, outer: &str) -> bool {
    let inner = inner.trim_end_matches('/').as_bytes();
    let outer = outer.trim_end_matches('/').as_bytes();
    // Allocation-free: the emulator asks this of many resources per request.
    inner.len() >= outer.len()
        && inner[..outer.len()].eq_ignore_ascii_case(outer)
        && (inner.len() == outer.len() || inner[outer.len()] == b'/')
}

/// Normalises a location the way ARM does ("East US" -> "eastus").
pub fn normalize_location(location: &str) -> String {
    location
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Last path segment of an id.
pub fn last_segment(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_and_group_shapes() {
        assert_eq!(parse("/subscriptions"), Ok(Route::Subscriptions));
        assert_eq!(
            parse("/subscriptions/S1"),
            Ok(Route::Subscription {
                subscription: "S1".into()
            })
        );
        assert_eq!(
            parse("/subscriptions/s/resourcegroups/My-RG/"),
            Ok(Route::ResourceGroup {
                subscription: "s".into(),
                name: "My-RG".into()
            })
        );
        assert_eq!(
            parse("/subscriptions/s/providers"),
            Ok(Route::Providers {
                subscription: "s".into()
            })
        );
        assert_eq!(
            parse("/subscriptions/s/resourceGroups/rg/resources"),
            Ok(Route::GenericResources {
                subscription: "s".into(),
                resource_group: Some("rg".into())
            })
        );
        assert_eq!(parse("/foo/bar"), Err(NotArmPath));
        assert_eq!(parse("/subscriptions//x"), Err(NotArmPath));
    }

    #[test]
    fn nested_resource_paths() {
        let Ok(Route::Provider(p)) = parse(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/master",
        ) else {
            panic!("not a provider path")
        };
        assert!(p.is_instance());
        assert_eq!(
            p.resource_type(),
            "Microsoft.Network/virtualNetworks/subnets"
        );
        assert_eq!(
            p.id_of(2),
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v"
        );
        assert_eq!(p.type_names(), vec!["virtualnetworks", "subnets"]);
        assert_eq!(p.scope.resource_group.as_deref(), Some("rg"));
        assert!(!p.scope.is_resource);
    }

    #[test]
    fn extension_resources_split_at_the_last_providers() {
        let Ok(Route::Provider(p)) = parse(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/providers/Microsoft.Authorization/roleAssignments/ra1",
        ) else {
            panic!("not a provider path")
        };
        assert_eq!(p.namespace, "Microsoft.Authorization");
        assert_eq!(
            p.scope.path,
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v"
        );
        assert!(p.scope.is_resource);
        assert_eq!(p.resource_type(), "Microsoft.Authorization/roleAssignments");

        let Ok(Route::Provider(p)) =
            parse("/subscriptions/s/providers/Microsoft.Authorization/permissions")
        else {
            panic!("not a provider path")
        };
        assert!(!p.is_instance());
        assert_eq!(p.scope.resource_group, None);
    }

    #[test]
    fn containment_is_case_insensitive_on_segment_boundaries() {
        assert!(is_within(
            "/subscriptions/S/resourceGroups/RG/x",
            "/subscriptions/s/resourcegroups/rg"
        ));
        assert!(!is_within(
            "/subscriptions/s/resourceGroups/rg2",
            "/subscriptions/s/resourceGroups/rg"
        ));
        assert!(is_within("/subscriptions/s", "/subscriptions/S/"));
    }
}
