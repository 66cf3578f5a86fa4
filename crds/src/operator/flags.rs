//! Default operator flags (ARO-RP's pkg/operator/flags.go).

use std::collections::BTreeMap;

const TRUE_FLAGS: &[&str] = &[
    "aro.alertwebhook.enabled",
    "aro.autosizednodes.enabled",
    "aro.azuresubnets.enabled",
    "aro.azuresubnets.nsg.managed",
    "aro.azuresubnets.serviceendpoint.managed",
    "aro.ccopprof.enabled",
    "aro.checker.enabled",
    "aro.cloudproviderconfig.enabled",
    "aro.dnsmasq.enabled",
    "aro.etchosts.enabled",
    "aro.etchosts.managed",
    "aro.genevalogging.enabled",
    "aro.guardrails.deploy.managed",
    "aro.guardrails.enabled",
    "aro.imageconfig.enabled",
    "aro.ingress.enabled",
    "aro.machine.enabled",
    "aro.machinehealthcheck.enabled",
    "aro.machinehealthcheck.managed",
    "aro.machineset.enabled",
    "aro.nodedrainer.enabled",
    "aro.pullsecret.enabled",
    "aro.pullsecret.managed",
    "aro.rbac.enabled",
    "aro.routefix.enabled",
    "aro.storageaccounts.enabled",
    "aro.workaround.copyfail.enabled",
    "aro.workaround.dirtyfrag.enabled",
    "aro.workaround.enabled",
    "rh.srep.muo.enabled",
    "rh.srep.muo.managed",
];

const FALSE_FLAGS: &[&str] = &[
    "aro.banner.enabled",
    "aro.cpms.enabled",
    "aro.forcereconciliation",
    "aro.monitoring.enabled",
    "aro.restartdnsmasq.enabled",
];

const VALUE_FLAGS: &[(&str, &str)] = &[
    ("aro.genevalogging.otel.profile", "minimal-logs"),
    ("aro.guardrails.method", "auto"),
    (
        "aro.guardrails.policies.aro-machines-deny.enforcement",
        "dryrun",
    ),
    ("aro.guardrails.policies.aro-machines-deny.managed", "true"),
    (
        "aro.guardrails.policies.aro-privileged-namespace-deny.enforcement",
        "dryrun",
    ),
    (
        "aro.guardrails.policies.aro-privileged-namespace-deny.managed",
        "true",
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
    fn no_flag_is_listed_twice() {
        let total = TRUE_FLAGS.len() + FALSE_FLAGS.len() + VALUE_FLAGS.len();
        assert_eq!(default_operator_flags().len(), total);
    }
}
