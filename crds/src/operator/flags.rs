//! Default operator flags: ARO-RP's pkg/operator/flags.go `DefaultOperatorFlags`, except that
//! the controllers this operator does not have are off ([`ENABLED_IN_ARO_ONLY`]).

use std::collections::BTreeMap;

/// Flags ARO-RP defaults to `true` whose controller (or part of one) exists in this operator.
const TRUE_FLAGS: &[&str] = &[
    "aro.alertwebhook.enabled",
    "aro.azuresubnets.enabled",
    "aro.azuresubnets.nsg.managed",
    "aro.azuresubnets.serviceendpoint.managed",
    "aro.checker.enabled",
    "aro.dnsmasq.enabled",
    "aro.genevalogging.enabled",
    "aro.machineset.enabled",
    "aro.pullsecret.enabled",
    "aro.pullsecret.managed",
    "aro.routefix.enabled",
    // What an absent controller would manage once it exists (ARO-RP's defaults); inert while
    // its `.enabled` flag is false.
    "aro.etchosts.managed",
    "aro.guardrails.deploy.managed",
    "aro.machinehealthcheck.managed",
    "rh.srep.muo.managed",
];

/// The `.enabled` flags of ARO-RP's controllers that this operator does not have: ARO-RP
/// defaults them to `true`, but a flag that says a controller runs when none does would tell
/// SREs something untrue. Each moves to `TRUE_FLAGS` with its controller (aro-operator's tests
/// check that every `.enabled` flag on by default has one).
pub const ENABLED_IN_ARO_ONLY: &[&str] = &[
    "aro.autosizednodes.enabled",
    "aro.ccopprof.enabled",
    "aro.cloudproviderconfig.enabled",
    "aro.etchosts.enabled",
    "aro.guardrails.enabled",
    "aro.imageconfig.enabled",
    "aro.ingress.enabled",
    "aro.machine.enabled",
    "aro.machinehealthcheck.enabled",
    "aro.nodedrainer.enabled",
    "aro.rbac.enabled",
    "aro.storageaccounts.enabled",
    "aro.workaround.copyfail.enabled",
    "aro.workaround.dirtyfrag.enabled",
    "aro.workaround.enabled",
    "rh.srep.muo.enabled",
];

/// Flags ARO-RP defaults to `false`.
const FALSE_FLAGS: &[&str] = &[
    "aro.banner.enabled",
    "aro.cpms.enabled",
    "aro.forcereconciliation",
    "aro.monitoring.enabled",
    "aro.restartdnsmasq.enabled",
];

/// Flags with other values, as ARO-RP defaults them: the Geneva logging profile, how guardrails
/// are enforced, and each guardrails deny policy's switch and enforcement.
const VALUE_FLAGS: &[(&str, &str)] = &[
    ("aro.genevalogging.otel.profile", "minimal-logs"),
    ("aro.guardrails.method", "auto"),
    (
        "aro.guardrails.policies.aro-machine-config-deny.managed",
        "true",
    ),
    (
        "aro.guardrails.policies.aro-machine-config-deny.enforcement",
        "dryrun",
    ),
    ("aro.guardrails.policies.aro-machines-deny.managed", "true"),
    (
        "aro.guardrails.policies.aro-machines-deny.enforcement",
        "deny",
    ),
    ("aro.guardrails.policies.aro-nodes-deny.managed", "true"),
    ("aro.guardrails.policies.aro-nodes-deny.enforcement", "deny"),
    (
        "aro.guardrails.policies.aro-privileged-namespace-deny.managed",
        "true",
    ),
    (
        "aro.guardrails.policies.aro-privileged-namespace-deny.enforcement",
        "dryrun",
    ),
];

/// The operator flags a new cluster gets, and what `operatorFlagsMergeStrategy: reset` restores.
pub fn default_operator_flags() -> BTreeMap<String, String> {
    let mut flags = BTreeMap::new();
    flags.extend(
        TRUE_FLAGS
            .iter()
            .map(|k| (k.to_string(), "true".to_string())),
    );
    flags.extend(
        FALSE_FLAGS
            .iter()
            .chain(ENABLED_IN_ARO_ONLY)
            .map(|k| (k.to_string(), "false".to_string())),
    );
    flags.extend(
        VALUE_FLAGS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_controllers_default_on() {
        let flags = default_operator_flags();
        for c in [
            "alertwebhook",
            "dnsmasq",
            "genevalogging",
            "machineset",
            "pullsecret",
            "routefix",
        ] {
            assert_eq!(flags[&format!("aro.{c}.enabled")], "true", "{c}");
        }
        assert_eq!(flags["aro.azuresubnets.enabled"], "true");
        assert_eq!(flags["aro.pullsecret.managed"], "true");
        assert_eq!(flags["aro.restartdnsmasq.enabled"], "false");
        assert_eq!(flags["aro.forcereconciliation"], "false");
        assert_eq!(flags["aro.genevalogging.otel.profile"], "minimal-logs");
    }

    #[test]
    fn controllers_that_do_not_exist_here_are_off() {
        let flags = default_operator_flags();
        for flag in ENABLED_IN_ARO_ONLY {
            assert_eq!(flags[*flag], "false", "{flag}");
        }
    }

    #[test]
    fn guardrails_deny_policies_have_aros_defaults() {
        let flags = default_operator_flags();
        for (policy, enforcement) in [
            ("aro-machine-config-deny", "dryrun"),
            ("aro-machines-deny", "deny"),
            ("aro-nodes-deny", "deny"),
            ("aro-privileged-namespace-deny", "dryrun"),
        ] {
            let prefix = format!("aro.guardrails.policies.{policy}");
            assert_eq!(flags[&format!("{prefix}.managed")], "true", "{policy}");
            assert_eq!(
                flags[&format!("{prefix}.enforcement")],
                enforcement,
                "{policy}"
            );
        }
        assert_eq!(flags["aro.guardrails.method"], "auto");
    }

    #[test]
    fn no_flag_is_listed_twice() {
        let total =
            TRUE_FLAGS.len() + FALSE_FLAGS.len() + ENABLED_IN_ARO_ONLY.len() + VALUE_FLAGS.len();
        assert_eq!(default_operator_flags().len(), total);
    }
}
