//! The route table: every path the frontend serves, with the audience that may call it and the
//! template its metrics and audit lines carry.
//!
//! A path is split into segments (empty ones dropped, so `//admin` is `/admin`), each
//! percent-decoded and matched case-insensitively (ARO-RP lowercases paths), once; routing,
//! authorization, metrics and audit all use that one match, so no spelling of a path can be
//! authorized as one route and served as another. A path matching no route is `other`, whose
//! audience is Admin under `/admin` and Arm elsewhere: an unauthenticated client gets 401 for
//! every non-public path, known or not, so it cannot probe which routes exist.

use super::auth::Audience;

/// What a matched route is, for dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteId {
    /// `/healthz`.
    Healthz,
    /// `/livez`.
    Livez,
    /// `/readyz`.
    Readyz,
    /// `/healthz/ready`.
    HealthzReady,
    /// `GET /providers/Microsoft.RedHatOpenShift/operations`.
    Operations,
    /// `/openapi`.
    OpenApiIndex,
    /// `/openapi/{version}`.
    OpenApi,
    /// `/subscriptions/{s}` (ARM subscription lifecycle).
    Subscription,
    /// `/subscriptions/{s}/providers/{ns}/{type}`.
    SubscriptionClusters,
    /// `…/locations/{l}/operationsstatus/{id}`.
    OperationStatus,
    /// `…/locations/{l}/operationresults/{id}`.
    OperationResult,
    /// `…/locations/{l}/openshiftversions`.
    Versions,
    /// `…/locations/{l}/openshiftversions/{v}`.
    Version,
    /// `…/locations/{l}/platformworkloadidentityrolesets`.
    RoleSets,
    /// `…/locations/{l}/platformworkloadidentityrolesets/{v}`.
    RoleSet,
    /// `…/resourcegroups/{rg}/providers/{ns}/deployments/{d}/preflight`.
    Preflight,
    /// `…/resourcegroups/{rg}/providers/{ns}/{type}`.
    ResourceGroupClusters,
    /// `…/resourcegroups/{rg}/providers/{ns}/{type}/{name}`.
    Cluster,
    /// `…/{name}/listcredentials`.
    ListCredentials,
    /// `…/{name}/listadmincredentials`.
    ListAdminCredentials,
    /// `/admin/versions`.
    AdminVersions,
    /// `/admin/platformworkloadidentityrolesets`.
    AdminRoleSets,
    /// `/admin/clusters`.
    AdminClusters,
    /// `/admin/providers/microsoft.redhatopenshift/openshiftclusters`.
    AdminProviderClusters,
    /// `/admin/subscriptions/{s}/resourcegroups/{rg}/providers/{ns}/{type}/{name}`: the admin
    /// view and admin update of one cluster.
    AdminCluster,
    /// No route.
    Other,
}

/// One entry of the table.
#[derive(Debug, PartialEq, Eq)]
pub struct Route {
    /// Dispatch key.
    pub id: RouteId,
    /// Lowercase template; `{…}` segments match anything. Also the metrics `route` label.
    pub template: &'static str,
    /// Who may call it.
    pub audience: Audience,
    /// The methods the swagger (or the admin API) defines on it; any other is 405.
    pub methods: &'static [&'static str],
}

const fn route(
    id: RouteId,
    template: &'static str,
    audience: Audience,
    methods: &'static [&'static str],
) -> Route {
    Route {
        id,
        template,
        audience,
        methods,
    }
}

impl Route {
    /// Whether the route defines `method`.
    pub fn allows(&self, method: &str) -> bool {
        self.methods.contains(&method)
    }
}

const GET: &[&str] = &["GET"];
const POST: &[&str] = &["POST"];
const GET_PUT: &[&str] = &["GET", "PUT"];

/// The shared prefix of the location routes.
#[cfg(test)]
const LOC: &str =
    "/subscriptions/{subscriptionid}/providers/{resourceprovidernamespace}/locations/{location}";

use Audience::{Admin, Arm, Public};
use RouteId::*;

/// Every route, first match wins.
pub static ROUTES: &[Route] = &[
    route(Healthz, "/healthz", Public, GET),
    route(Livez, "/livez", Public, GET),
    route(Readyz, "/readyz", Public, GET),
    route(HealthzReady, "/healthz/ready", Public, GET),
    route(
        Operations,
        "/providers/microsoft.redhatopenshift/operations",
        Public,
        GET,
    ),
    route(OpenApiIndex, "/openapi", Public, GET),
    route(OpenApi, "/openapi/{version}", Public, GET),
    route(
        Subscription,
        "/subscriptions/{subscriptionid}",
        Arm,
        GET_PUT,
    ),
    route(
        SubscriptionClusters,
        "/subscriptions/{subscriptionid}/providers/{resourceprovidernamespace}/{resourcetype}",
        Arm,
        GET,
    ),
    route(
        OperationStatus,
        "/subscriptions/{subscriptionid}/providers/{resourceprovidernamespace}/locations/{location}/operationsstatus/{operationid}",
        Arm,
        GET,
    ),
    route(
        OperationResult,
        "/subscriptions/{subscriptionid}/providers/{resourceprovidernamespace}/locations/{location}/operationresults/{operationid}",
        Arm,
        GET,
    ),
    route(
        Versions,
        "/subscriptions/{subscriptionid}/providers/{resourceprovidernamespace}/locations/{location}/openshiftversions",
        Arm,
        GET,
    ),
    route(
        Version,
        "/subscriptions/{subscriptionid}/providers/{resourceprovidernamespace}/locations/{location}/openshiftversions/{version}",
        Arm,
        GET,
    ),
    route(
        RoleSets,
        "/subscriptions/{subscriptionid}/providers/{resourceprovidernamespace}/locations/{location}/platformworkloadidentityrolesets",
        Arm,
        GET,
    ),
    route(
        RoleSet,
        "/subscriptions/{subscriptionid}/providers/{resourceprovidernamespace}/locations/{location}/platformworkloadidentityrolesets/{version}",
        Arm,
        GET,
    ),
    route(
        Preflight,
        "/subscriptions/{subscriptionid}/resourcegroups/{resourcegroupname}/providers/{resourceprovidernamespace}/deployments/{deploymentname}/preflight",
        Arm,
        POST,
    ),
    route(
        ResourceGroupClusters,
        "/subscriptions/{subscriptionid}/resourcegroups/{resourcegroupname}/providers/{resourceprovidernamespace}/{resourcetype}",
        Arm,
        GET,
    ),
    route(
        Cluster,
        "/subscriptions/{subscriptionid}/resourcegroups/{resourcegroupname}/providers/{resourceprovidernamespace}/{resourcetype}/{resourcename}",
        Arm,
        &["GET", "PUT", "PATCH", "DELETE"],
    ),
    route(
        ListCredentials,
        "/subscriptions/{subscriptionid}/resourcegroups/{resourcegroupname}/providers/{resourceprovidernamespace}/{resourcetype}/{resourcename}/listcredentials",
        Arm,
        POST,
    ),
    route(
        ListAdminCredentials,
        "/subscriptions/{subscriptionid}/resourcegroups/{resourcegroupname}/providers/{resourceprovidernamespace}/{resourcetype}/{resourcename}/listadmincredentials",
        Arm,
        POST,
    ),
    route(AdminVersions, "/admin/versions", Admin, GET_PUT),
    route(
        AdminRoleSets,
        "/admin/platformworkloadidentityrolesets",
        Admin,
        GET_PUT,
    ),
    route(AdminClusters, "/admin/clusters", Admin, GET),
    route(
        AdminProviderClusters,
        "/admin/providers/microsoft.redhatopenshift/openshiftclusters",
        Admin,
        GET,
    ),
    route(
        AdminCluster,
        "/admin/subscriptions/{subscriptionid}/resourcegroups/{resourcegroupname}/providers/{resourceprovidernamespace}/{resourcetype}/{resourcename}",
        Admin,
        &["GET", "PUT", "PATCH"],
    ),
];

/// Unmatched paths outside `/admin`: ARM's (authenticate, then 404).
pub static OTHER: Route = route(Other, "other", Arm, &[]);
/// Unmatched paths under `/admin`: the admin audience's (authenticate, then 404).
pub static OTHER_ADMIN: Route = route(Other, "other", Admin, &[]);

/// A path's segments: original case (percent-decoded) and lowercase, empty segments dropped.
pub fn split_path(path: &str) -> (Vec<String>, Vec<String>) {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let lower = segments.iter().map(|s| s.to_lowercase()).collect();
    (segments, lower)
}

/// The route of lowercase `segments`.
pub fn match_route(lower: &[String]) -> &'static Route {
    ROUTES
        .iter()
        .find(|r| matches(r.template, lower))
        .unwrap_or_else(|| {
            if lower.first().is_some_and(|s| s == "admin") {
                &OTHER_ADMIN
            } else {
                &OTHER
            }
        })
}

fn matches(template: &str, lower: &[String]) -> bool {
    let parts: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    parts.len() == lower.len()
        && parts
            .iter()
            .zip(lower)
            .all(|(p, s)| p.starts_with('{') || *p == s)
}

/// Percent-decode one segment (invalid escapes stay as they are).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(path: &str) -> &'static Route {
        match_route(&split_path(path).1)
    }

    const CLUSTER: &str = "/subscriptions/6f2c1b3a-1111-4222-8333-944445555666/resourceGroups/rg/providers/Microsoft.RedHatOpenShift/openShiftClusters/c";

    #[test]
    fn every_route_has_one_audience() {
        let cases = [
            ("/healthz", Healthz, Public),
            ("/healthz/ready", HealthzReady, Public),
            (
                "/providers/Microsoft.RedHatOpenShift/operations",
                Operations,
                Public,
            ),
            ("/openapi/2023-11-22", OpenApi, Public),
            ("/subscriptions/x", Subscription, Arm),
            (CLUSTER, Cluster, Arm),
            (&format!("{CLUSTER}/listCredentials"), ListCredentials, Arm),
            (
                &format!("{CLUSTER}/listAdminCredentials"),
                ListAdminCredentials,
                Arm,
            ),
            (
                "/subscriptions/x/providers/Microsoft.RedHatOpenShift/locations/eastus/operationsStatus/y",
                OperationStatus,
                Arm,
            ),
            (
                "/subscriptions/x/resourceGroups/rg/providers/Microsoft.RedHatOpenShift/deployments/d/preflight",
                Preflight,
                Arm,
            ),
            ("/admin/versions", AdminVersions, Admin),
            (&format!("/admin{CLUSTER}"), AdminCluster, Admin),
            ("/metrics", Other, Arm),
            ("/nowhere/at/all", Other, Arm),
            ("/admin/nowhere", Other, Admin),
        ];
        for (path, id, audience) in cases {
            let r = of(path);
            assert_eq!((r.id, r.audience), (id, audience), "{path}");
        }
    }

    #[test]
    fn spellings_of_admin_are_the_admin_routes() {
        for path in [
            "/admin/versions",
            "//admin/versions",
            "/admin//versions/",
            "/%61dmin/versions",
            "/%61%64%6D%69%6E/versions",
            "/ADMIN/VERSIONS",
            "/Admin/Versions",
        ] {
            assert_eq!(of(path).id, AdminVersions, "{path}");
            assert_eq!(of(path).audience, Admin, "{path}");
        }
        for path in ["//admin/x", "/%61dmin/x", "/ADMIN"] {
            assert_eq!(of(path).audience, Admin, "{path}");
        }
        // An encoded slash stays inside its segment: no route.
        assert_eq!(of("/admin%2Fversions").id, Other);
        assert_eq!(of("/admin%2Fversions").audience, Arm);
    }

    #[test]
    fn templates_are_a_fixed_set() {
        let mut seen = std::collections::BTreeSet::new();
        for r in ROUTES {
            assert!(seen.insert(r.template), "duplicate {}", r.template);
            assert_eq!(r.template, r.template.to_lowercase());
            assert!(r.template.starts_with('/'));
        }
        for r in ROUTES.iter().filter(|r| r.template.contains("/locations/")) {
            assert!(r.template.starts_with(LOC), "{}", r.template);
        }
        assert_eq!(of(&format!("/{}", "x/".repeat(50))).template, "other");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("bad%zz"), "bad%zz");
        assert_eq!(percent_decode("end%2"), "end%2");
        assert_eq!(percent_decode("end%41"), "endA");
    }
}
