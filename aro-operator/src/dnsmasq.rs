//! dnsmasq: every MachineConfigPool gets a MachineConfig `99-<pool>-aro-dns` (owned by the pool,
//! role label `machineconfiguration.openshift.io/role: <pool>`) whose Ignition 3.2.0 config runs
//! dnsmasq on the nodes: `api` and `api-int` resolve to the API server's internal IP, `*.apps` to the
//! ingress IP, the gateway domains to the gateway private endpoint; everything else goes to the
//! DHCP-provided resolvers (ARO-RP's pkg/operator/controllers).
//!
//! A changed MachineConfig reboots every node of its pool, so an existing MachineConfig is only
//! rewritten when `aro.forcereconciliation` is on or while the cluster upgrades anyway; otherwise
//! missing MachineConfigs are created and existing ones are left as they are.

use std::net::IpAddr;

use base64::Engine;
use crds::operator::Cluster;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::kinds::{CLUSTER_VERSION, MACHINE_CONFIG, MACHINE_CONFIG_POOL};
use crate::{Error, FIELD_MANAGER, Result};
use aro_common::drift::is_subset;

/// Name in conditions: `DnsmasqClusterController*` (ARO-RP's cluster-level reconciler).
pub const NAME: &str = "DnsmasqCluster";
/// Flag gating the controller.
pub const FLAG_ENABLED: &str = "aro.dnsmasq.enabled";
/// Flag adding the NetworkManager dispatcher script that restarts dnsmasq on interface changes.
pub const FLAG_RESTART_DNSMASQ: &str = "aro.restartdnsmasq.enabled";
/// Flag allowing reboot-causing rewrites of existing MachineConfigs outside upgrades.
pub const FLAG_FORCE_RECONCILIATION: &str = "aro.forcereconciliation";
/// Label giving a MachineConfig's pool role.
pub const ROLE_LABEL: &str = "machineconfiguration.openshift.io/role";
/// Ignition version of the generated config.
pub const IGNITION_VERSION: &str = "3.2.0";

/// The MachineConfig name of pool `pool`.
pub fn machine_config_name(pool: &str) -> String {
    format!("99-{pool}-aro-dns")
}

/// What the dnsmasq configuration resolves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsmasqSettings {
    pub cluster_domain: String,
    pub api_int_ip: IpAddr,
    pub ingress_ip: IpAddr,
    pub gateway_domains: Vec<String>,
    pub gateway_private_endpoint_ip: Option<IpAddr>,
    pub restart_dnsmasq: bool,
}

fn parse_ip(field: &str, value: &str) -> Result<IpAddr> {
    value
        .parse()
        .map_err(|_| Error::invalid("dnsmasq", format!("{field} {value:?} is not a valid IP")))
}

impl DnsmasqSettings {
    /// The settings of `cluster`, validating its IPs (the gateway IP only when there are gateway
    /// domains) and domain.
    pub fn from_cluster(cluster: &Cluster) -> Result<Self> {
        let spec = &cluster.spec;
        if spec.domain.trim().is_empty() {
            return Err(Error::invalid("dnsmasq", "spec.domain is empty"));
        }
        let gateway_private_endpoint_ip = if spec.gateway_domains.is_empty() {
            None
        } else {
            Some(parse_ip(
                "gatewayPrivateEndpointIP",
                &spec.gateway_private_endpoint_ip,
            )?)
        };
        Ok(Self {
            cluster_domain: spec.domain.clone(),
            api_int_ip: parse_ip("apiIntIP", &spec.api_int_ip)?,
            ingress_ip: parse_ip("ingressIP", &spec.ingress_ip)?,
            gateway_domains: spec.gateway_domains.clone(),
            gateway_private_endpoint_ip,
            restart_dnsmasq: spec.flag_enabled(FLAG_RESTART_DNSMASQ),
        })
    }
}

/// `/etc/dnsmasq.conf`.
pub fn dnsmasq_conf(s: &DnsmasqSettings) -> String {
    let d = &s.cluster_domain;
    let mut conf = format!(
        "resolv-file=/etc/resolv.conf.dnsmasq\nstrict-order\naddress=/api.{d}/{api}\naddress=/api-int.{d}/{api}\naddress=/.apps.{d}/{ingress}\n",
        api = s.api_int_ip,
        ingress = s.ingress_ip,
    );
    if let Some(gateway_ip) = s.gateway_private_endpoint_ip {
        for domain in &s.gateway_domains {
            conf.push_str(&format!("address=/{domain}/{gateway_ip}\n"));
        }
    }
    conf.push_str("user=dnsmasq\ngroup=dnsmasq\nno-hosts\ncache-size=0\n");
    conf
}

/// `dnsmasq.service`.
pub const DNSMASQ_SERVICE: &str = r#"[Unit]
Description=DNS caching server.
After=network-online.target
Before=bootkube.service

[Service]
# ExecStartPre makes the DHCP-provided resolvers dnsmasq's upstream and points the node at dnsmasq.
ExecStartPre=/bin/bash /usr/local/bin/aro-dnsmasq-pre.sh
ExecStart=/usr/sbin/dnsmasq -k
ExecStopPost=/bin/bash -c '/bin/mv /etc/resolv.conf.dnsmasq /etc/resolv.conf; /usr/sbin/restorecon /etc/resolv.conf'
Restart=always

[Install]
WantedBy=multi-user.target
"#;

/// `/usr/local/bin/aro-dnsmasq-pre.sh`.
pub const PRE_SCRIPT: &str = r##"#!/bin/bash
set -euo pipefail

# Part of the ARO dnsmasq configuration (MachineConfig 99-<pool>-aro-dns). Idempotent.

TMPSELFRESOLV=$(mktemp)
TMPNETRESOLV=$(mktemp)

echo "# Generated for dnsmasq.service - should point to self" > $TMPSELFRESOLV
echo "# Do not modify" >> $TMPSELFRESOLV
echo "# This file has been generated by aro-dnsmasq-pre.sh" >> $TMPSELFRESOLV
echo "nameserver $(hostname -I | cut -d " " -f 1)" >> $TMPSELFRESOLV

echo "# Generated for dnsmasq.service - should contain DHCP configured DNS" > $TMPNETRESOLV
echo "# Do not modify" >> $TMPNETRESOLV
echo "# This file has been generated by aro-dnsmasq-pre.sh" >> $TMPNETRESOLV

if nmcli device show br-ex; then
    echo "OVN mode - br-ex device exists"
    SEARCH_RAW=$(nmcli --get IP4.DOMAIN device show br-ex)
    NAMESERVER_RAW=$(nmcli --get IP4.DNS device show br-ex | tr -s " | " "\n")
    LOCAL_IPS_RAW=$(nmcli --get IP4.ADDRESS device show br-ex)
else
    NETDEV=$(nmcli --get device connection show --active | head -n 1)
    echo "OVS SDN mode - br-ex not found, using device $NETDEV"
    SEARCH_RAW=$(nmcli --get IP4.DOMAIN device show $NETDEV)
    NAMESERVER_RAW=$(nmcli --get IP4.DNS device show $NETDEV | tr -s " | " "\n")
    LOCAL_IPS_RAW=$(nmcli --get IP4.ADDRESS device show $NETDEV)
fi

echo "search $SEARCH_RAW" | tr '\n' ' ' >> $TMPNETRESOLV
echo "" >> $TMPNETRESOLV
echo "search $SEARCH_RAW" | tr '\n' ' ' >> $TMPSELFRESOLV
echo "" >> $TMPSELFRESOLV

echo "$NAMESERVER_RAW" | while read -r line
do
    echo "nameserver $line" >> $TMPNETRESOLV
done
echo "$LOCAL_IPS_RAW" | while read -r line
do
    echo "nameserver $line" | cut -d'/' -f 1 >> $TMPSELFRESOLV
done

/bin/mv $TMPNETRESOLV /etc/resolv.conf.dnsmasq
/usr/sbin/restorecon /etc/resolv.conf.dnsmasq
/bin/mv $TMPSELFRESOLV /etc/resolv.conf
/usr/sbin/restorecon /etc/resolv.conf
"##;

/// `/etc/NetworkManager/dispatcher.d/99-dnsmasq-restart`.
pub const RESTART_SCRIPT: &str = r#"#!/bin/sh
# NetworkManager dispatcher script: restart dnsmasq when an interface goes up or down (e.g. host
# servicing), reapplying our /etc/resolv.conf over NetworkManager's.
interface=$1
action=$2

log() {
    logger -i "$0" -t '99-DNSMASQ-RESTART SCRIPT' "$@"
}

case "$interface" in
    eth*|enP*)
        if [ "$action" = "up" ] || [ "$action" = "down" ]; then
            log "$action happened on $interface, connection state is now $CONNECTIVITY_STATE"
            if systemctl try-restart dnsmasq --wait; then
                log "dnsmasq successfully restarted"
            else
                log "failed to restart dnsmasq"
            fi
        fi
        ;;
esac
exit 0
"#;

fn data_url(contents: &str) -> String {
    format!(
        "data:text/plain;charset=utf-8;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(contents)
    )
}

fn file(path: &str, contents: &str, mode: u32) -> Value {
    json!({
        "overwrite": true,
        "path": path,
        "user": {"name": "root"},
        "contents": {"source": data_url(contents)},
        "mode": mode,
    })
}

/// The Ignition 3.2.0 config of the dnsmasq setup.
pub fn ignition_config(s: &DnsmasqSettings) -> Value {
    let mut files = vec![
        file("/etc/dnsmasq.conf", &dnsmasq_conf(s), 0o644),
        file("/usr/local/bin/aro-dnsmasq-pre.sh", PRE_SCRIPT, 0o744),
    ];
    if s.restart_dnsmasq {
        files.push(file(
            "/etc/NetworkManager/dispatcher.d/99-dnsmasq-restart",
            RESTART_SCRIPT,
            0o744,
        ));
    }
    json!({
        "ignition": {"version": IGNITION_VERSION},
        "storage": {"files": files},
        "systemd": {"units": [{"contents": DNSMASQ_SERVICE, "enabled": true, "name": "dnsmasq.service"}]},
    })
}

/// The MachineConfig of `pool` (a MachineConfigPool as JSON, for its name and uid).
pub fn machine_config(pool: &Value, s: &DnsmasqSettings) -> Value {
    let pool_name = pool["metadata"]["name"].as_str().unwrap_or_default();
    json!({
        "apiVersion": MACHINE_CONFIG.api_version(),
        "kind": "MachineConfig",
        "metadata": {
            "name": machine_config_name(pool_name),
            "labels": {ROLE_LABEL: pool_name},
            "ownerReferences": [{
                "apiVersion": MACHINE_CONFIG_POOL.api_version(),
                "kind": "MachineConfigPool",
                "name": pool_name,
                "uid": pool["metadata"]["uid"].as_str().unwrap_or_default(),
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": {"config": ignition_config(s)},
    })
}

/// Whether the cluster is upgrading: ClusterVersion (as JSON) reports Progressing=True.
pub fn is_upgrading(cluster_version: &Value) -> bool {
    cluster_version["status"]["conditions"]
        .as_array()
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c["type"] == "Progressing" && c["status"] == "True")
        })
}

/// What to do with one pool's MachineConfig.
#[derive(Clone, Debug, PartialEq)]
pub enum MachineConfigAction {
    /// Missing: create it.
    Create(Value),
    /// Differs and rewriting is allowed: update it.
    Update(Value),
    /// Differs but rewriting would reboot nodes outside an upgrade: leave it.
    SkipReboot,
    /// Already as desired.
    Keep,
}

/// The action for one pool given its desired and existing MachineConfig.
pub fn plan(desired: Value, existing: Option<&Value>, allow_rewrite: bool) -> MachineConfigAction {
    match existing {
        None => MachineConfigAction::Create(desired),
        Some(existing) if is_subset(&desired, existing) => MachineConfigAction::Keep,
        Some(_) if allow_rewrite => MachineConfigAction::Update(desired),
        Some(_) => MachineConfigAction::SkipReboot,
    }
}

/// Reconcile once: one MachineConfig per pool. Returns the action taken per pool.
pub async fn reconcile(
    client: &Client,
    cluster: &Cluster,
) -> Result<Vec<(String, MachineConfigAction)>> {
    if !cluster.spec.flag_enabled(FLAG_ENABLED) {
        return Ok(Vec::new());
    }
    let settings = DnsmasqSettings::from_cluster(cluster)?;
    let cv = Api::<DynamicObject>::all_with(client.clone(), &CLUSTER_VERSION.api_resource())
        .get_opt("version")
        .await?
        .map(|cv| serde_json::to_value(&cv))
        .transpose()?
        .unwrap_or(Value::Null);
    let allow_rewrite = cluster.spec.flag_enabled(FLAG_FORCE_RECONCILIATION) || is_upgrading(&cv);
    let pools = Api::<DynamicObject>::all_with(client.clone(), &MACHINE_CONFIG_POOL.api_resource())
        .list(&ListParams::default())
        .await?;
    let configs: Api<DynamicObject> = Api::all_with(client.clone(), &MACHINE_CONFIG.api_resource());
    let mut actions = Vec::new();
    for pool in &pools.items {
        let pool = serde_json::to_value(pool)?;
        let desired = machine_config(&pool, &settings);
        let name = machine_config_name(pool["metadata"]["name"].as_str().unwrap_or_default());
        let existing = configs
            .get_opt(&name)
            .await?
            .map(|mc| serde_json::to_value(&mc))
            .transpose()?;
        let action = plan(desired, existing.as_ref(), allow_rewrite);
        if let MachineConfigAction::Create(obj) | MachineConfigAction::Update(obj) = &action {
            configs
                .patch(
                    &name,
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(obj),
                )
                .await?;
            tracing::info!(machineconfig = %name, "wrote dnsmasq MachineConfig");
        }
        actions.push((name, action));
    }
    Ok(actions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> Cluster {
        let mut c = Cluster::new("cluster", Default::default());
        c.spec.domain = "mycluster.eastus.aroapp.io".into();
        c.spec.api_int_ip = "10.0.0.4".into();
        c.spec.ingress_ip = "20.1.2.3".into();
        c
    }

    fn decode_file(ign: &Value, path: &str) -> Option<String> {
        let f = ign["storage"]["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path)?;
        let source = f["contents"]["source"].as_str().unwrap();
        let b64 = source
            .strip_prefix("data:text/plain;charset=utf-8;base64,")
            .unwrap();
        Some(
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap(),
            )
            .unwrap(),
        )
    }

    #[test]
    fn dnsmasq_conf_resolves_api_apps_and_gateway_domains() {
        let mut c = cluster();
        c.spec.gateway_domains = vec![
            "agentimagestorage.blob.core.windows.net".into(),
            "gcs.prod.monitoring.core.windows.net".into(),
        ];
        c.spec.gateway_private_endpoint_ip = "10.0.1.9".into();
        let conf = dnsmasq_conf(&DnsmasqSettings::from_cluster(&c).unwrap());
        assert_eq!(
            conf,
            "resolv-file=/etc/resolv.conf.dnsmasq\nstrict-order\n\
             address=/api.mycluster.eastus.aroapp.io/10.0.0.4\n\
             address=/api-int.mycluster.eastus.aroapp.io/10.0.0.4\n\
             address=/.apps.mycluster.eastus.aroapp.io/20.1.2.3\n\
             address=/agentimagestorage.blob.core.windows.net/10.0.1.9\n\
             address=/gcs.prod.monitoring.core.windows.net/10.0.1.9\n\
             user=dnsmasq\ngroup=dnsmasq\nno-hosts\ncache-size=0\n"
        );
        let plain = dnsmasq_conf(&DnsmasqSettings::from_cluster(&cluster()).unwrap());
        assert!(!plain.contains("10.0.1.9"));
    }

    #[test]
    fn invalid_ips_are_rejected() {
        let mut c = cluster();
        c.spec.api_int_ip = "10.0.0".into();
        assert!(
            DnsmasqSettings::from_cluster(&c)
                .unwrap_err()
                .to_string()
                .contains("apiIntIP")
        );
        let mut c = cluster();
        c.spec.ingress_ip = String::new();
        assert!(
            DnsmasqSettings::from_cluster(&c)
                .unwrap_err()
                .to_string()
                .contains("ingressIP")
        );
        let mut c = cluster();
        c.spec.gateway_domains = vec!["x.example".into()];
        c.spec.gateway_private_endpoint_ip = "nope".into();
        assert!(DnsmasqSettings::from_cluster(&c).is_err());
        // Without gateway domains the gateway IP is not used and not validated.
        let mut c = cluster();
        c.spec.gateway_private_endpoint_ip = "nope".into();
        assert!(DnsmasqSettings::from_cluster(&c).is_ok());
        let mut c = cluster();
        c.spec.domain = " ".into();
        assert!(DnsmasqSettings::from_cluster(&c).is_err());
        let mut c = cluster();
        c.spec.api_int_ip = "fd00::4".into();
        assert!(DnsmasqSettings::from_cluster(&c).is_ok());
    }

    #[test]
    fn ignition_has_files_unit_and_optional_restart_script() {
        let s = DnsmasqSettings::from_cluster(&cluster()).unwrap();
        let ign = ignition_config(&s);
        assert_eq!(ign["ignition"]["version"], "3.2.0");
        assert_eq!(
            decode_file(&ign, "/etc/dnsmasq.conf").unwrap(),
            dnsmasq_conf(&s)
        );
        assert_eq!(
            decode_file(&ign, "/usr/local/bin/aro-dnsmasq-pre.sh").unwrap(),
            PRE_SCRIPT
        );
        assert!(decode_file(&ign, "/etc/NetworkManager/dispatcher.d/99-dnsmasq-restart").is_none());
        let files = ign["storage"]["files"].as_array().unwrap();
        assert_eq!(files[0]["mode"], 0o644);
        assert_eq!(files[1]["mode"], 0o744);
        assert_eq!(files[0]["user"]["name"], "root");
        assert_eq!(files[0]["overwrite"], true);
        let unit = &ign["systemd"]["units"][0];
        assert_eq!(unit["name"], "dnsmasq.service");
        assert_eq!(unit["enabled"], true);
        assert!(
            unit["contents"]
                .as_str()
                .unwrap()
                .contains("ExecStartPre=/bin/bash /usr/local/bin/aro-dnsmasq-pre.sh")
        );

        let mut c = cluster();
        c.spec
            .operator_flags
            .insert(FLAG_RESTART_DNSMASQ.into(), "True".into());
        let ign = ignition_config(&DnsmasqSettings::from_cluster(&c).unwrap());
        assert_eq!(
            decode_file(&ign, "/etc/NetworkManager/dispatcher.d/99-dnsmasq-restart").unwrap(),
            RESTART_SCRIPT
        );
    }

    #[test]
    fn machine_config_is_named_labelled_and_owned_by_its_pool() {
        let pool = json!({"metadata": {"name": "worker", "uid": "pool-uid"}});
        let mc = machine_config(&pool, &DnsmasqSettings::from_cluster(&cluster()).unwrap());
        assert_eq!(mc["metadata"]["name"], "99-worker-aro-dns");
        assert_eq!(mc["metadata"]["labels"][ROLE_LABEL], "worker");
        let owner = &mc["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "MachineConfigPool");
        assert_eq!(owner["name"], "worker");
        assert_eq!(owner["uid"], "pool-uid");
        assert_eq!(owner["controller"], true);
        assert_eq!(mc["apiVersion"], "machineconfiguration.openshift.io/v1");
    }

    #[test]
    fn existing_machine_configs_are_rewritten_only_when_allowed() {
        let pool = json!({"metadata": {"name": "master", "uid": "u"}});
        let s = DnsmasqSettings::from_cluster(&cluster()).unwrap();
        let desired = machine_config(&pool, &s);
        assert!(matches!(
            plan(desired.clone(), None, false),
            MachineConfigAction::Create(_)
        ));
        assert_eq!(
            plan(desired.clone(), Some(&desired), false),
            MachineConfigAction::Keep
        );
        let mut stale = desired.clone();
        stale["spec"]["config"]["storage"]["files"][0]["contents"]["source"] = json!("data:,old");
        assert_eq!(
            plan(desired.clone(), Some(&stale), false),
            MachineConfigAction::SkipReboot
        );
        assert!(matches!(
            plan(desired, Some(&stale), true),
            MachineConfigAction::Update(_)
        ));
    }

    #[test]
    fn upgrading_means_cluster_version_progressing() {
        assert!(is_upgrading(
            &json!({"status": {"conditions": [{"type": "Progressing", "status": "True"}]}})
        ));
        assert!(!is_upgrading(
            &json!({"status": {"conditions": [{"type": "Progressing", "status": "False"}]}})
        ));
        assert!(!is_upgrading(&Value::Null));
    }
}
