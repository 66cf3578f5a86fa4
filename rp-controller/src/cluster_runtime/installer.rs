//! The `installer` cluster runtime: brings a cluster up with the OpenShift installer binary, the
//! way Hive does. Each cluster gets a directory `<work dir>/<infra id>/`; the runtime writes
//! `install-config.yaml` there (from [`install_config`], a pure function of the [`SeedInput`]), runs
//! `openshift-install create cluster --dir <dir>`, and reads what the installer leaves behind:
//! `metadata.json` (cluster name and the installer's infra id, what `destroy cluster` needs),
//! `auth/kubeconfig` (the admin kubeconfig) and `auth/kubeadmin-password`.
//!
//! The installer writes `metadata.json` and `auth/` *before* it creates any infrastructure, so
//! their presence does not prove an install finished: a successful run is recorded with a marker
//! file, [`COMPLETE_MARKER`]. A directory holding an unfinished attempt (a failure, a timeout, a
//! process killed mid-install) is cleaned up like Hive does before a retry: `destroy cluster` when
//! `metadata.json` exists, then every file but the log is removed and the install starts over.
//!
//! The install-config describes the whole cluster ([`install_config`]): its networks, outbound
//! type, API server and ingress visibility (`publish`), FIPS, machine pools with encryption at
//! host and disk encryption sets, and its SSH key. The installer creates the cluster's network,
//! load balancers and DNS records itself into the existing, empty cluster resource group, so the
//! RP builds none of them first (`ClusterRuntime::rp_builds_network` is false).
//!
//! The installer runs in a cleared environment: `PATH`, `HOME` inside the install directory
//! (whose `.azure/osServicePrincipal.json` holds the cluster's service principal, owner-only,
//! also given as `AZURE_*`), `OPENSHIFT_INSTALL_RELEASE_IMAGE_OVERRIDE` with the version's release
//! image (as Hive's install pod sets it), then the configured extra environment; nothing of the
//! RP's own credentials is inherited. Its stdout and stderr are piped through this process and
//! appended line by line to [`LOG_FILE`] (owner-only) with the pull secret, the client secret
//! and the kubeadmin password redacted; the installer's own log, [`INSTALLER_LOG_FILE`], is kept
//! owner-only and redacted after each run. A failure's error carries the last lines of the run's
//! output.
//!
//! The version's installer image (`SeedInput::installer_pullspec`) is what Hive's install pod
//! runs; this runtime runs a local binary instead: with `InstallerConfig::binaries_dir` the one
//! extracted from that image, `<binaries_dir>/<version>/openshift-install` (a version without one
//! fails the install with the image to extract named), else the one configured binary for every
//! version. The binary that created a cluster is recorded in its directory, and destroys it.
//!
//! Unlike the `local` runtime nothing runs in this process: the operator is deployed into the
//! cluster through its API and runs there as a Deployment.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use aro_operator::manifests::OperatorDeployValues;
use async_trait::async_trait;
use serde_json::{Value, json};

use crds::management::{OutboundType, Visibility};

use super::seed::{SeedInput, WorkerPool};
use super::{ClusterAccess, ClusterRuntime};
use crate::{Error, Result};

/// The install configuration the installer reads (it consumes the file).
pub const INSTALL_CONFIG_FILE: &str = "install-config.yaml";
/// Written by the installer: `clusterName`, `infraID` and the platform's metadata.
pub const METADATA_FILE: &str = "metadata.json";
/// Written by the installer: the admin kubeconfig.
pub const KUBECONFIG_FILE: &str = "auth/kubeconfig";
/// Written by the installer: the kubeadmin user's password.
pub const KUBEADMIN_PASSWORD_FILE: &str = "auth/kubeadmin-password";
/// Where the installer's stdout and stderr are appended, redacted line by line as they arrive.
pub const LOG_FILE: &str = ".aro-installer-output.log";
/// The installer's own debug log in the install directory: kept owner-only, and redacted after
/// each run (the installer writes it itself).
pub const INSTALLER_LOG_FILE: &str = ".openshift_install.log";
/// The installer's `HOME`, inside the install directory (nothing of the RP's home leaks in).
pub const HOME_DIR: &str = ".home";
/// Where openshift-install reads its Azure service principal, relative to `HOME`
/// (openshift/installer's pkg/asset/installconfig/azure).
pub const AZURE_CREDENTIALS_FILE: &str = ".azure/osServicePrincipal.json";
/// The environment variable that makes openshift-install install another release image.
pub const RELEASE_IMAGE_OVERRIDE: &str = "OPENSHIFT_INSTALL_RELEASE_IMAGE_OVERRIDE";
/// The installer binary's file name in a per-version directory.
pub const BINARY_NAME: &str = "openshift-install";
/// Records which binary created the cluster (`destroy cluster` runs the same one).
const BINARY_RECORD: &str = ".aro-installer-binary";
/// `PATH` of the installer when this process has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// What a secret in the installer's output becomes.
const REDACTED: &str = "<redacted>";
/// Written by the installer: every asset it generated, including the signer of the admin
/// kubeconfig's client certificate (`*tls.AdminKubeConfigSignerCertKey`), which the cluster's API
/// server trusts for client certificates.
pub const STATE_FILE: &str = ".openshift_install_state.json";
/// The state file's key of the admin kubeconfig signer (the asset's Go type).
const ADMIN_KUBECONFIG_SIGNER_ASSET: &str = "*tls.AdminKubeConfigSignerCertKey";
/// Written by this runtime once `create cluster` succeeded and its outputs were read.
pub const COMPLETE_MARKER: &str = ".aro-install-complete";

/// How long an install may run by default (ARO-RP's runInstaller bound).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// Lines of installer output an error carries.
const ERROR_TAIL_LINES: usize = 20;
/// At most this many characters of installer output in an error.
const ERROR_TAIL_CHARS: usize = 4000;

/// Pod network when the cluster names none (the frontend's default).
pub const DEFAULT_POD_CIDR: &str = "10.128.0.0/14";
/// Default service network.
pub const DEFAULT_SERVICE_CIDR: &str = "172.30.0.0/16";
/// The machine network is a placeholder, as in ARO-RP: ARO's machines live in the
/// customer's subnets, which the install config names.
pub const MACHINE_CIDR: &str = "127.0.0.0/8";
/// Per-node pod subnet size.
pub const HOST_PREFIX: u32 = 23;
/// Cluster network plugin when the cluster names none.
pub const NETWORK_TYPE: &str = "OVNKubernetes";
/// Control plane machines.
pub const MASTER_REPLICAS: u32 = 3;
/// Control plane OS disk size, as ARO-RP sets it.
pub const MASTER_DISK_SIZE_GB: i32 = 1024;
/// Availability zones of both machine pools.
pub const ZONES: [&str; 3] = ["1", "2", "3"];

/// Configuration of the installer runtime.
#[derive(Clone)]
pub struct InstallerConfig {
    /// The `openshift-install` binary.
    pub binary: PathBuf,
    /// Where each cluster's install directory lives (`<work_dir>/<infra id>`): keep it durable, it
    /// holds what `destroy cluster` needs.
    pub work_dir: PathBuf,
    /// How long one `create cluster` or `destroy cluster` may run.
    pub timeout: Duration,
    /// Extra environment of the installer, set after what the runtime sets (proxy settings,
    /// ...); nothing else of this process's environment reaches the installer but `PATH`.
    pub extra_env: Vec<(String, String)>,
    /// Per-version installer binaries: `<binaries_dir>/<version>/openshift-install`, each
    /// extracted from its version's installer image (`OpenShiftVersion.installerPullspec`).
    /// `None`: `binary` installs every version (with the version's release image override).
    pub binaries_dir: Option<PathBuf>,
}

impl InstallerConfig {
    /// `binary` installing under `work_dir`, with [`DEFAULT_TIMEOUT`] and no extra environment.
    pub fn new(binary: impl Into<PathBuf>, work_dir: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
            work_dir: work_dir.into(),
            timeout: DEFAULT_TIMEOUT,
            extra_env: Vec::new(),
            binaries_dir: None,
        }
    }
}

impl std::fmt::Debug for InstallerConfig {
    // The extra environment may hold credentials: only its names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstallerConfig")
            .field("binary", &self.binary)
            .field("work_dir", &self.work_dir)
            .field("timeout", &self.timeout)
            .field("binaries_dir", &self.binaries_dir)
            .field(
                "extra_env",
                &self.extra_env.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// What the installer's `metadata.json` says about the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallMetadata {
    /// `clusterName`: the install config's `metadata.name`.
    pub cluster_name: String,
    /// `infraID`: the installer's infrastructure id (prefix of the Azure resources it created);
    /// it is generated by the installer and need not equal the RP's infra id.
    pub infra_id: String,
}

/// Clusters installed by the OpenShift installer binary.
pub struct InstallerRuntime {
    config: InstallerConfig,
    /// One lock per infra id: one installer run per directory at a time.
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Admin clients built from the clusters' kubeconfigs.
    clients: std::sync::Mutex<HashMap<String, kube::Client>>,
}

impl InstallerRuntime {
    /// A runtime running `config.binary`.
    pub fn new(config: InstallerConfig) -> Self {
        Self {
            config,
            locks: Default::default(),
            clients: Default::default(),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &InstallerConfig {
        &self.config
    }

    /// The install directory of a cluster.
    pub fn dir_of(&self, infra_id: &str) -> Result<PathBuf> {
        validate_infra_id(infra_id)?;
        Ok(self.config.work_dir.join(infra_id))
    }

    /// The kubeadmin password the installer generated, once the install finished.
    pub async fn kubeadmin_password(&self, infra_id: &str) -> Result<Option<aro_common::Secret>> {
        let dir = self.dir_of(infra_id)?;
        if !dir.join(COMPLETE_MARKER).exists() {
            return Ok(None);
        }
        let password = read_file(&dir.join(KUBEADMIN_PASSWORD_FILE)).await?;
        Ok(Some(password.trim().into()))
    }

    /// What the installer's `metadata.json` says, when it exists.
    pub async fn metadata(&self, infra_id: &str) -> Result<Option<InstallMetadata>> {
        let path = self.dir_of(infra_id)?.join(METADATA_FILE);
        if !path.exists() {
            return Ok(None);
        }
        parse_metadata(&read_file(&path).await?).map(Some)
    }

    fn lock_of(&self, infra_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(infra_id.to_string()).or_default().clone()
    }

    fn forget_client(&self, infra_id: &str) {
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(infra_id);
    }

    /// The cluster's admin client, `None` until the install finished.
    async fn cluster_client(&self, infra_id: &str) -> Result<Option<kube::Client>> {
        let dir = self.dir_of(infra_id)?;
        if let Some(client) = self
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(infra_id)
        {
            return Ok(Some(client.clone()));
        }
        if !dir.join(COMPLETE_MARKER).exists() {
            return Ok(None);
        }
        let client = kube_client(&dir.join(KUBECONFIG_FILE)).await?;
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(infra_id.to_string(), client.clone());
        Ok(Some(client))
    }

    /// The installer binary of a version: `<binaries_dir>/<version>/openshift-install` when
    /// per-version binaries are configured (it must exist), else the one `binary`.
    pub fn binary_for(&self, version: &str, installer_pullspec: &str) -> Result<PathBuf> {
        let Some(root) = &self.config.binaries_dir else {
            return Ok(self.config.binary.clone());
        };
        let valid =
            !version.is_empty() && !version.starts_with('.') && !version.contains(['/', '\\']);
        let path = root.join(version).join(BINARY_NAME);
        if valid && path.is_file() {
            return Ok(path);
        }
        Err(Error::Runtime(format!(
            "no openshift-install for version {version:?} at {} (extract it from the version's installer image {installer_pullspec:?})",
            path.display()
        )))
    }

    /// The binary that created what is in `dir` (recorded at create), else the configured one.
    fn recorded_binary(&self, dir: &Path) -> PathBuf {
        std::fs::read_to_string(dir.join(BINARY_RECORD))
            .ok()
            .map(|s| PathBuf::from(s.trim()))
            .filter(|p| p.is_file())
            .unwrap_or_else(|| self.config.binary.clone())
    }

    /// The installer's environment: nothing inherited but `PATH`; `HOME` in the install
    /// directory, whose `.azure/osServicePrincipal.json` (written by [`write_azure_credentials`])
    /// the installer reads, and the same credentials as `AZURE_*`; the release image override;
    /// then the configured extra environment.
    fn installer_env(&self, dir: &Path, release_image: &str) -> Vec<(String, String)> {
        let home = dir.join(HOME_DIR);
        let mut env = vec![
            (
                "PATH".to_string(),
                std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_string()),
            ),
            ("HOME".to_string(), home.display().to_string()),
        ];
        let credentials = home.join(AZURE_CREDENTIALS_FILE);
        if let Ok(text) = std::fs::read_to_string(&credentials)
            && let Ok(value) = serde_json::from_str::<Value>(&text)
        {
            env.push((
                "AZURE_AUTH_LOCATION".into(),
                credentials.display().to_string(),
            ));
            for (key, var) in [
                ("subscriptionId", "AZURE_SUBSCRIPTION_ID"),
                ("tenantId", "AZURE_TENANT_ID"),
                ("clientId", "AZURE_CLIENT_ID"),
                ("clientSecret", "AZURE_CLIENT_SECRET"),
            ] {
                if let Some(v) = value[key].as_str() {
                    env.push((var.to_string(), v.to_string()));
                }
            }
        }
        if !release_image.is_empty() {
            // As Hive's install pod does: the installer installs this release, not the one it
            // was built with.
            env.push((RELEASE_IMAGE_OVERRIDE.into(), release_image.to_string()));
        }
        env.extend(self.config.extra_env.iter().cloned());
        env
    }

    /// Run `<binary> <args...> --dir <dir> <extra...>` with the timeout in a cleared
    /// environment; its stdout and stderr are read line by line and appended, redacted, to the
    /// log.
    async fn run_installer(
        &self,
        binary: &Path,
        dir: &Path,
        verb: &[&str],
        extra: &[&str],
        release_image: &str,
        mut redactor: Redactor,
    ) -> Result<()> {
        let log_path = dir.join(LOG_FILE);
        let command = verb.join(" ");
        // The installer's output may quote secrets: the log is owner-only (and redacted).
        let mut log = aro_common::fs::open_private(
            &log_path,
            std::fs::OpenOptions::new().create(true).append(true),
        )
        .map_err(private_error)?;
        // The installer's own log (debug level, next to ours) is owner-only from the start too.
        aro_common::fs::ensure_private_file(&dir.join(INSTALLER_LOG_FILE))
            .map_err(private_error)?;
        let start = log.seek(SeekFrom::End(0)).unwrap_or(0);
        writeln!(
            log,
            "--- {} aro-rp: running openshift-install {command}",
            chrono::Utc::now().to_rfc3339()
        )
        .map_err(|e| io_error("writing", &log_path, e))?;
        let env = self.installer_env(dir, release_image);
        redactor.add(
            env.iter()
                .filter(|(k, _)| k == "AZURE_CLIENT_SECRET")
                .map(|(_, v)| v.clone()),
        );
        let mut cmd = tokio::process::Command::new(binary);
        cmd.args(verb)
            .arg("--dir")
            .arg(dir)
            .args(extra)
            .current_dir(dir)
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        tracing::info!(binary = %binary.display(), dir = %dir.display(), command, release_image, "running the installer");
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::Runtime(format!("starting {} {command}: {e}", binary.display())))?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(Error::Runtime("the installer's output is not piped".into()));
        };
        let outcome = {
            let run = async {
                copy_redacted(stdout, stderr, &mut log, &mut redactor).await;
                child.wait().await
            };
            tokio::time::timeout(self.config.timeout, run).await
        };
        // What the installer wrote into its own log is redacted as well.
        redactor.redact_file(&dir.join(INSTALLER_LOG_FILE));
        let failure = match outcome {
            Ok(Ok(status)) if status.success() => return Ok(()),
            Ok(Ok(status)) => format!("openshift-install {command} failed ({status})"),
            Ok(Err(e)) => format!("waiting for openshift-install {command}: {e}"),
            Err(_) => {
                let _ = child.kill().await;
                format!(
                    "openshift-install {command} did not finish within {:?}",
                    self.config.timeout
                )
            }
        };
        let tail = log_tail(&log_path, start, &redactor.secrets);
        tracing::warn!(dir = %dir.display(), "{failure}");
        Err(Error::Runtime(if tail.is_empty() {
            failure
        } else {
            format!("{failure}; last output:\n{tail}")
        }))
    }

    /// `destroy cluster` in `dir` with the binary and credentials that created it.
    async fn destroy(&self, dir: &Path) -> Result<()> {
        let binary = self.recorded_binary(dir);
        self.run_installer(
            &binary,
            dir,
            &["destroy", "cluster"],
            &[],
            "",
            Redactor::new(dir, Vec::new()),
        )
        .await
    }

    /// Destroy what an unfinished earlier attempt created and clear its files (the logs and the
    /// credentials stay).
    async fn clean_up_attempt(&self, dir: &Path) -> Result<()> {
        if dir.join(METADATA_FILE).exists() {
            tracing::info!(dir = %dir.display(), "destroying what an unfinished install left");
            self.destroy(dir).await?;
        }
        let entries = std::fs::read_dir(dir).map_err(|e| io_error("reading", dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_error("reading", dir, e))?;
            if [LOG_FILE, INSTALLER_LOG_FILE, HOME_DIR]
                .iter()
                .any(|keep| entry.file_name() == *keep)
            {
                continue;
            }
            let path = entry.path();
            let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(|e| io_error("removing", &path, e))?;
        }
        Ok(())
    }
}

#[async_trait]
impl ClusterRuntime for InstallerRuntime {
    fn name(&self) -> &'static str {
        "installer"
    }

    fn rp_builds_network(&self) -> bool {
        // openshift-install creates the cluster's network and DNS records itself, into an
        // empty resource group.
        false
    }

    async fn ensure_cluster(&self, infra_id: &str, seed: &SeedInput) -> Result<ClusterAccess> {
        let dir = self.dir_of(infra_id)?;
        let lock = self.lock_of(infra_id);
        let _guard = lock.lock().await;
        if dir.join(COMPLETE_MARKER).exists() {
            return read_access(&dir).await;
        }
        check_installable(seed)?;
        if seed.service_principal.is_none() {
            // A workload identity cluster needs the installer's manual credentials mode and
            // the platform identities set up first, which this runtime does not do.
            return Err(Error::Runtime(
                "the installer runtime installs service principal clusters only".into(),
            ));
        }
        let binary = self.binary_for(&seed.version, &seed.installer_pullspec)?;
        // The directory receives the pull secret, the Azure credentials, the admin kubeconfig
        // and the kubeadmin password: owner-only (an existing one is checked too).
        aro_common::fs::create_private_dir(&dir).map_err(private_error)?;
        // The current credentials first: destroying an earlier attempt uses them too.
        write_azure_credentials(&dir, seed)?;
        self.clean_up_attempt(&dir).await?;
        let yaml = serde_yaml::to_string(&install_config(seed))
            .map_err(|e| Error::Runtime(format!("install-config.yaml: {e}")))?;
        write_private(&dir.join(INSTALL_CONFIG_FILE), yaml.as_bytes())?;
        write_private(
            &dir.join(BINARY_RECORD),
            format!("{}\n", binary.display()).as_bytes(),
        )?;
        self.run_installer(
            &binary,
            &dir,
            &["create", "cluster"],
            &["--log-level", "info"],
            &seed.release_pullspec,
            Redactor::new(&dir, pull_secret_fragments(seed.pull_secret.expose())),
        )
        .await?;
        let access = read_access(&dir).await?;
        if let Ok(Some(metadata)) = self.metadata(infra_id).await {
            tracing::info!(
                infra_id,
                installer_infra_id = metadata.infra_id,
                cluster_name = metadata.cluster_name,
                "installed"
            );
        }
        aro_common::fs::write_private_file(
            &dir.join(COMPLETE_MARKER),
            (chrono::Utc::now().to_rfc3339() + "\n").as_bytes(),
        )
        .map_err(private_error)?;
        self.forget_client(infra_id);
        Ok(access)
    }

    async fn resume(&self, infra_id: &str) -> Result<Option<ClusterAccess>> {
        let dir = self.dir_of(infra_id)?;
        if !dir.join(COMPLETE_MARKER).exists() {
            return Ok(None);
        }
        read_access(&dir).await.map(Some)
    }

    async fn api_ready(&self, infra_id: &str) -> Result<bool> {
        let Some(client) = self.cluster_client(infra_id).await? else {
            return Ok(false);
        };
        Ok(super::remote::api_answers(&client).await)
    }

    async fn install_operator(&self, infra_id: &str, values: &OperatorDeployValues) -> Result<()> {
        let client = self.cluster_client(infra_id).await?.ok_or_else(|| {
            Error::Runtime(format!(
                "cluster {infra_id} is not installed (installer runtime)"
            ))
        })?;
        super::remote::deploy_operator(&client, values).await
    }

    async fn operator_ready(&self, infra_id: &str) -> Result<bool> {
        let Some(client) = self.cluster_client(infra_id).await? else {
            return Ok(false);
        };
        super::remote::operator_ready(&client).await
    }

    async fn user_admin_kubeconfig(
        &self,
        infra_id: &str,
        validity: Duration,
    ) -> Result<Option<aro_common::Secret>> {
        let dir = self.dir_of(infra_id)?;
        if !dir.join(COMPLETE_MARKER).exists() {
            return Ok(None);
        }
        let state = read_file(&dir.join(STATE_FILE)).await?;
        let signer = admin_kubeconfig_signer(&state)?;
        let admin = read_file(&dir.join(KUBECONFIG_FILE)).await?;
        user_admin_kubeconfig(&admin, &signer, validity).map(Some)
    }

    async fn client(&self, infra_id: &str) -> Result<Option<kube::Client>> {
        self.cluster_client(infra_id).await
    }

    async fn delete(&self, infra_id: &str) -> Result<()> {
        let dir = self.dir_of(infra_id)?;
        let lock = self.lock_of(infra_id);
        let guard = lock.lock().await;
        self.forget_client(infra_id);
        if dir.exists() {
            if dir.join(METADATA_FILE).exists() {
                self.destroy(&dir).await?;
            }
            std::fs::remove_dir_all(&dir).map_err(|e| io_error("removing", &dir, e))?;
        }
        drop(guard);
        self.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(infra_id);
        Ok(())
    }

    async fn shutdown(&self) {
        // Nothing runs in this process; an install still running is killed when its future is
        // dropped, and the next attempt cleans its directory up.
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// The install config of a cluster (`install-config.yaml`, as JSON). Pure.
///
/// Built from the whole cluster as ARO-RP's pkg/installer generateInstallConfig does, in the
/// upstream installer's schema (openshift/installer's pkg/types and pkg/types/azure):
/// * networks: the pod and service CIDRs, the network plugin; the machine network is a
///   placeholder (the machines live in the customer's subnets);
/// * `platform.azure`: the existing, empty cluster resource group (`resourceGroupName`), the
///   customer's virtual network and subnets, the outbound type, and the DNS zone's resource group
///   when the cluster's domain is in the RP's zone and something is published externally;
/// * `publish`: see [`publishing`];
/// * pools: the control plane, and the compute pool from the worker profile named `worker` (see
///   [`check_installable`] for the others), each with encryption at host and the OS disks' disk
///   encryption set;
/// * FIPS, the SSH public key, and the pull secret without `cloud.openshift.com`.
pub fn install_config(seed: &SeedInput) -> Value {
    let (name, base_domain) = seed.domain.split_once('.').unwrap_or((&seed.domain, ""));
    let worker = install_worker_pool(seed);
    let master = WorkerPool {
        name: "master".into(),
        vm_size: seed.master_vm_size.clone(),
        disk_size_gb: MASTER_DISK_SIZE_GB,
        count: MASTER_REPLICAS,
        subnet: seed.master_subnet.clone(),
        encryption_at_host: seed.master_encryption_at_host,
        disk_encryption_set_id: seed.master_disk_encryption_set_id.clone(),
    };
    let (publish, operator_publishing) = publishing(seed);
    let mut azure = json!({
        "region": seed.location.to_ascii_lowercase(),
        "resourceGroupName": seed.cluster_resource_group,
        "networkResourceGroupName": seed.vnet_resource_group,
        "virtualNetwork": seed.vnet,
        "controlPlaneSubnet": seed.master_subnet,
        "computeSubnet": worker.subnet,
        "outboundType": match seed.outbound_type {
            OutboundType::Loadbalancer => "Loadbalancer",
            OutboundType::UserDefinedRouting => "UserDefinedRouting",
        },
        "cloudName": "AzurePublicCloud",
    });
    // The installer creates the public `api` and `*.apps` records in the base domain's zone,
    // which it looks up in this resource group; an internal cluster has none.
    if publish != PUBLISH_INTERNAL && !seed.base_domain_resource_group.is_empty() {
        azure["baseDomainResourceGroupName"] = json!(seed.base_domain_resource_group);
    }
    let mut config = json!({
        "apiVersion": "v1",
        "baseDomain": base_domain,
        "metadata": {"name": name},
        "controlPlane": machine_pool("master", &master),
        "compute": [machine_pool(COMPUTE_POOL_NAME, &worker)],
        "networking": {
            "networkType": non_empty_or(&seed.network_type, NETWORK_TYPE),
            "clusterNetwork": [{
                "cidr": non_empty_or(&seed.pod_cidr, DEFAULT_POD_CIDR),
                "hostPrefix": HOST_PREFIX,
            }],
            "serviceNetwork": [non_empty_or(&seed.service_cidr, DEFAULT_SERVICE_CIDR)],
            "machineNetwork": [{"cidr": MACHINE_CIDR}],
        },
        "platform": {"azure": azure},
        "publish": publish,
        "pullSecret": install_pull_secret(seed.pull_secret.expose()),
        "fips": seed.fips,
    });
    if let Some(strategy) = operator_publishing {
        config["operatorPublishingStrategy"] = strategy;
    }
    if !seed.ssh_public_key.is_empty() {
        config["sshKey"] = json!(seed.ssh_public_key);
    }
    config
}

/// The only compute pool name openshift-install accepts on Azure (its install-config validation
/// refuses any other name, and a second pool of the same name).
pub const COMPUTE_POOL_NAME: &str = "worker";
/// `publish` of a cluster whose API server and ingress are both private.
pub const PUBLISH_INTERNAL: &str = "Internal";
/// `publish` of a cluster whose API server and ingress are both public.
pub const PUBLISH_EXTERNAL: &str = "External";
/// `publish` of a cluster with one of them public and the other private (Azure only).
pub const PUBLISH_MIXED: &str = "Mixed";

/// The install config's `publish` and, for `Mixed`, its `operatorPublishingStrategy`.
///
/// ARO-RP's generateInstallConfig decides `publish` by the default ingress alone (Internal when
/// it is private) because its installer fork never creates the API server's load balancers (the
/// RP made them, public or private by the API server's visibility). The upstream installer
/// creates both, so both visibilities go in: Internal when both are private, External when both
/// are public, otherwise Mixed with each one's own strategy.
pub fn publishing(seed: &SeedInput) -> (&'static str, Option<Value>) {
    let strategy = |v: Visibility| match v {
        Visibility::Public => PUBLISH_EXTERNAL,
        Visibility::Private => PUBLISH_INTERNAL,
    };
    match (seed.apiserver_visibility, seed.ingress_visibility) {
        (Visibility::Private, Visibility::Private) => (PUBLISH_INTERNAL, None),
        (Visibility::Public, Visibility::Public) => (PUBLISH_EXTERNAL, None),
        (api, ingress) => (
            PUBLISH_MIXED,
            Some(json!({"apiserver": strategy(api), "ingress": strategy(ingress)})),
        ),
    }
}

/// The worker pools of a seed: its `worker_pools`, or one from the single-pool fields.
pub fn worker_pools(seed: &SeedInput) -> Vec<WorkerPool> {
    if !seed.worker_pools.is_empty() {
        return seed.worker_pools.clone();
    }
    vec![WorkerPool {
        name: COMPUTE_POOL_NAME.into(),
        vm_size: seed.worker_vm_size.clone(),
        disk_size_gb: seed.worker_disk_size_gb,
        count: seed.worker_count,
        subnet: seed.worker_subnet.clone(),
        encryption_at_host: false,
        disk_encryption_set_id: None,
    }]
}

/// The pool the install config's compute pool is made from: the one named `worker`, else the
/// first.
fn install_worker_pool(seed: &SeedInput) -> WorkerPool {
    let pools = worker_pools(seed);
    pools
        .iter()
        .find(|p| p.name == COMPUTE_POOL_NAME)
        .or_else(|| pools.first())
        .cloned()
        .unwrap_or_default()
}

/// Whether openshift-install can install the cluster as [`install_config`] describes it.
///
/// openshift-install takes one compute pool, named `worker`, in one compute subnet: a cluster
/// whose worker profiles do not fit (the frontend accepts exactly one, named `worker`, at
/// creation, so only a spec written around it gets here) is refused with the profiles named,
/// rather than installed without them.
pub fn check_installable(seed: &SeedInput) -> Result<()> {
    let pools = worker_pools(seed);
    let extra: Vec<&str> = pools
        .iter()
        .filter(|p| p.name != COMPUTE_POOL_NAME)
        .map(|p| p.name.as_str())
        .collect();
    if pools.len() != 1 || !extra.is_empty() {
        return Err(Error::Runtime(format!(
            "openshift-install installs exactly one compute pool, named {COMPUTE_POOL_NAME:?}; the cluster has {} worker profile(s){}",
            pools.len(),
            if extra.is_empty() {
                String::new()
            } else {
                format!(" and these are named otherwise: {}", extra.join(", "))
            }
        )));
    }
    for id in [
        &seed.master_disk_encryption_set_id,
        &pools[0].disk_encryption_set_id,
    ]
    .into_iter()
    .flatten()
    {
        if disk_encryption_set(id).is_none() {
            return Err(Error::Runtime(format!(
                "{id:?} is not a disk encryption set's resource id"
            )));
        }
    }
    Ok(())
}

/// An install-config machine pool (`controlPlane` or a `compute` entry).
fn machine_pool(name: &str, pool: &WorkerPool) -> Value {
    let mut os_disk = json!({"diskSizeGB": pool.disk_size_gb});
    if let Some(set) = pool
        .disk_encryption_set_id
        .as_deref()
        .and_then(disk_encryption_set)
    {
        os_disk["diskEncryptionSet"] = set;
    }
    let mut azure = json!({
        "type": pool.vm_size,
        "zones": ZONES,
        "osDisk": os_disk,
    });
    if pool.encryption_at_host {
        azure["encryptionAtHost"] = json!(true);
    }
    json!({
        "name": name,
        "replicas": pool.count,
        "hyperthreading": "Enabled",
        "architecture": "amd64",
        "platform": {"azure": azure},
    })
}

/// The installer's `osDisk.diskEncryptionSet` of a disk encryption set's ARM id.
fn disk_encryption_set(id: &str) -> Option<Value> {
    let parsed = aro_common::ResourceId::parse(id).ok()?;
    if !parsed.is_type("Microsoft.Compute/diskEncryptionSets") {
        return None;
    }
    Some(json!({
        "subscriptionId": parsed.subscription,
        "resourceGroup": parsed.resource_group,
        "name": parsed.name(),
    }))
}

fn non_empty_or<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.trim().is_empty() {
        default
    } else {
        value
    }
}

/// The OpenSSH public key line (`<type> <base64 wire key>`) of a PEM private key, as
/// ARO-RP's generateInstallConfig derives the install config's `sshKey` from the cluster's
/// private key. The RP's keys are ECDSA P-256 (what `rcgen` generates); Ed25519 is read too.
pub fn openssh_public_key(private_key_pem: &str) -> Result<String> {
    use base64::Engine;
    let key = rcgen::KeyPair::from_pem(private_key_pem)
        .map_err(|e| Error::Runtime(format!("the cluster's SSH key: {e}")))?;
    fn string(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    let mut wire = Vec::new();
    let kind = if key.algorithm() == &rcgen::PKCS_ECDSA_P256_SHA256 {
        // RFC 5656: string "ecdsa-sha2-nistp256", string "nistp256", string Q (uncompressed).
        string(&mut wire, b"ecdsa-sha2-nistp256");
        string(&mut wire, b"nistp256");
        string(&mut wire, key.public_key_raw());
        "ecdsa-sha2-nistp256"
    } else if key.algorithm() == &rcgen::PKCS_ED25519 {
        // RFC 8709: string "ssh-ed25519", string the 32-byte public key.
        string(&mut wire, b"ssh-ed25519");
        string(&mut wire, key.public_key_raw());
        "ssh-ed25519"
    } else {
        return Err(Error::Runtime(
            "the cluster's SSH key is neither ECDSA P-256 nor Ed25519".into(),
        ));
    };
    Ok(format!(
        "{kind} {}",
        base64::engine::general_purpose::STANDARD.encode(wire)
    ))
}

/// The customer's pull secret without `cloud.openshift.com` (as ARO-RP does: no telemetry
/// registration at install), `{"auths":{}}` when there is none.
fn install_pull_secret(pull_secret: &str) -> String {
    if pull_secret.trim().is_empty() {
        return r#"{"auths":{}}"#.to_string();
    }
    match serde_json::from_str::<Value>(pull_secret) {
        Ok(mut value) if value["auths"].is_object() => {
            if let Some(auths) = value["auths"].as_object_mut() {
                auths.remove("cloud.openshift.com");
            }
            value.to_string()
        }
        _ => pull_secret.to_string(),
    }
}

/// Write the cluster's service principal where openshift-install reads it
/// (`$HOME/.azure/osServicePrincipal.json`, owner-only); a cluster without one gets none.
fn write_azure_credentials(dir: &Path, seed: &SeedInput) -> Result<()> {
    let Some(sp) = &seed.service_principal else {
        return Ok(());
    };
    let path = dir.join(HOME_DIR).join(AZURE_CREDENTIALS_FILE);
    if let Some(parent) = path.parent() {
        aro_common::fs::create_private_dir(parent).map_err(private_error)?;
    }
    let body = json!({
        "subscriptionId": seed.subscription_id,
        "tenantId": sp.tenant_id,
        "clientId": sp.client_id,
        "clientSecret": sp.client_secret.expose(),
    });
    write_private(&path, body.to_string().as_bytes())
}

/// Takes the secrets out of the installer's output: the pull secret and its credentials, the
/// service principal's client secret, and the kubeadmin password (read from the file the
/// installer writes before it prints it, and recognised in the installer's login line).
struct Redactor {
    /// Longest first.
    secrets: Vec<String>,
    /// The installer's `auth/kubeadmin-password`, until read.
    password_file: Option<PathBuf>,
}

impl Redactor {
    fn new(dir: &Path, secrets: Vec<String>) -> Self {
        let mut redactor = Self {
            secrets: Vec::new(),
            password_file: Some(dir.join(KUBEADMIN_PASSWORD_FILE)),
        };
        redactor.add(secrets);
        redactor
    }

    fn add(&mut self, secrets: impl IntoIterator<Item = String>) {
        self.secrets
            .extend(secrets.into_iter().filter(|s| s.trim().len() >= 4));
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        self.secrets.dedup();
    }

    fn learn_password(&mut self) {
        if let Some(path) = &self.password_file
            && let Ok(password) = std::fs::read_to_string(path)
        {
            self.password_file = None;
            self.add([password.trim().to_string()]);
        }
    }

    fn redact(&mut self, line: &str) -> String {
        self.learn_password();
        let mut redacted = line.to_string();
        for secret in &self.secrets {
            redacted = redacted.replace(secret.as_str(), REDACTED);
        }
        redact_password_fields(&redacted)
    }

    /// Redact a file in place (owner-only); a missing file is nothing to do.
    fn redact_file(&mut self, path: &Path) {
        let Ok(bytes) = std::fs::read(path) else {
            return;
        };
        let text = String::from_utf8_lossy(&bytes);
        let mut out = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            let (body, end) = match line.strip_suffix('\n') {
                Some(body) => (body, "\n"),
                None => (line, ""),
            };
            out.push_str(&self.redact(body));
            out.push_str(end);
        }
        if out != text
            && let Err(e) = write_private(path, out.as_bytes())
        {
            tracing::warn!(path = %path.display(), "redacting the installer's log: {e}");
        }
    }
}

/// `password: "<value>"` (also with the quotes escaped, as in a logfmt `msg="..."`) with the
/// value redacted: the installer's closing line names the kubeadmin password so.
fn redact_password_fields(line: &str) -> String {
    const KEY: &str = "password: ";
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(KEY) {
        let (head, tail) = rest.split_at(at + KEY.len());
        out.push_str(head);
        let quote = if tail.starts_with("\\\"") {
            "\\\""
        } else if tail.starts_with('"') {
            "\""
        } else {
            rest = tail;
            continue;
        };
        let value = &tail[quote.len()..];
        match value.find(quote) {
            Some(end) => {
                out.push_str(quote);
                out.push_str(REDACTED);
                out.push_str(quote);
                rest = &value[end + quote.len()..];
            }
            None => {
                out.push_str(quote);
                out.push_str(REDACTED);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Copy the installer's stdout and stderr into the log as lines arrive, each redacted, until
/// both end.
async fn copy_redacted(
    stdout: tokio::process::ChildStdout,
    stderr: tokio::process::ChildStderr,
    log: &mut std::fs::File,
    redactor: &mut Redactor,
) {
    use tokio::io::AsyncBufReadExt;
    let mut out = tokio::io::BufReader::new(stdout).split(b'\n');
    let mut err = tokio::io::BufReader::new(stderr).split(b'\n');
    let (mut out_open, mut err_open) = (true, true);
    let mut write = |bytes: Vec<u8>| {
        let line = redactor.redact(String::from_utf8_lossy(&bytes).trim_end_matches('\r'));
        if let Err(e) = writeln!(log, "{line}") {
            tracing::warn!("writing the installer's log: {e}");
        }
    };
    while out_open || err_open {
        tokio::select! {
            line = out.next_segment(), if out_open => match line {
                Ok(Some(bytes)) => write(bytes),
                _ => out_open = false,
            },
            line = err.next_segment(), if err_open => match line {
                Ok(Some(bytes)) => write(bytes),
                _ => err_open = false,
            },
        }
    }
}

/// Strings of a pull secret that must never appear in an error: the whole secret and every
/// credential in it.
fn pull_secret_fragments(pull_secret: &str) -> Vec<String> {
    let mut fragments = Vec::new();
    let trimmed = pull_secret.trim();
    if trimmed.is_empty() {
        return fragments;
    }
    fragments.push(trimmed.to_string());
    fragments.push(install_pull_secret(trimmed));
    if let Ok(value) = serde_json::from_str::<Value>(trimmed)
        && let Some(auths) = value["auths"].as_object()
    {
        for entry in auths.values() {
            for key in ["auth", "password", "identitytoken", "registrytoken"] {
                if let Some(s) = entry[key].as_str() {
                    fragments.push(s.to_string());
                }
            }
        }
    }
    fragments.retain(|f| f.len() >= 4);
    // Longest first, so a credential inside the whole secret does not break its redaction.
    fragments.sort_by_key(|f| std::cmp::Reverse(f.len()));
    fragments.dedup();
    fragments
}

/// The last lines of what was appended to `path` after byte `start`, secrets redacted.
fn log_tail(path: &Path, start: u64, secrets: &[String]) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = file.seek(SeekFrom::Start(start));
        let mut bytes = Vec::new();
        let _ = file.read_to_end(&mut bytes);
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    tail_lines(&text, secrets)
}

fn tail_lines(text: &str, secrets: &[String]) -> String {
    let mut redacted = text.to_string();
    for secret in secrets {
        redacted = redacted.replace(secret.as_str(), "<redacted>");
    }
    let lines: Vec<&str> = redacted
        .lines()
        .filter(|l| !l.trim().is_empty() && !is_header(l))
        .collect();
    let tail = lines[lines.len().saturating_sub(ERROR_TAIL_LINES)..].join("\n");
    if tail.len() > ERROR_TAIL_CHARS {
        let mut cut = tail.len() - ERROR_TAIL_CHARS;
        while !tail.is_char_boundary(cut) {
            cut += 1;
        }
        format!("...{}", &tail[cut..])
    } else {
        tail
    }
}

/// The line this runtime writes before each installer run.
fn is_header(line: &str) -> bool {
    line.starts_with("--- ") && line.contains(" aro-rp: ")
}

/// `clusterName` and `infraID` of a `metadata.json`; both are required.
pub fn parse_metadata(text: &str) -> Result<InstallMetadata> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Error::Runtime(format!("{METADATA_FILE} is not JSON: {e}")))?;
    let field = |key: &str| {
        value[key]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| Error::Runtime(format!("{METADATA_FILE} has no {key}")))
    };
    Ok(InstallMetadata {
        cluster_name: field("clusterName")?,
        infra_id: field("infraID")?,
    })
}

/// The API server URL of a kubeconfig: its current context's cluster, else its only cluster.
pub fn api_url_of(kubeconfig_yaml: &str) -> Result<String> {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(kubeconfig_yaml)
        .map_err(|e| Error::Runtime(format!("admin kubeconfig: {e}")))?;
    let cluster_name = kubeconfig
        .current_context
        .as_ref()
        .and_then(|current| kubeconfig.contexts.iter().find(|c| &c.name == current))
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone());
    let cluster = match cluster_name {
        Some(name) => kubeconfig.clusters.iter().find(|c| c.name == name),
        None if kubeconfig.clusters.len() == 1 => kubeconfig.clusters.first(),
        None => None,
    };
    cluster
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.clone())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::Runtime("admin kubeconfig names no API server".into()))
}

/// Access from an install directory's outputs (metadata.json, kubeconfig, kubeadmin password).
async fn read_access(dir: &Path) -> Result<ClusterAccess> {
    parse_metadata(&read_file(&dir.join(METADATA_FILE)).await?)?;
    let admin_kubeconfig = read_file(&dir.join(KUBECONFIG_FILE)).await?;
    let password = read_file(&dir.join(KUBEADMIN_PASSWORD_FILE)).await?;
    if password.trim().is_empty() {
        return Err(Error::Runtime(format!(
            "{KUBEADMIN_PASSWORD_FILE} is empty"
        )));
    }
    Ok(ClusterAccess {
        api_url: api_url_of(&admin_kubeconfig)?,
        admin_kubeconfig: admin_kubeconfig.into(),
        kubeadmin_password: Some(password.trim().to_string().into()),
    })
}

/// A certificate and key pair in PEM.
pub struct SignerPem {
    /// The signer's certificate.
    pub cert: String,
    /// Its private key (a secret).
    pub key: aro_common::Secret,
}

/// The admin kubeconfig signer of an installer state file: the asset's `CertRaw` and `KeyRaw`
/// (Go's `[]byte`, so base64 of the PEM).
pub fn admin_kubeconfig_signer(state_json: &str) -> Result<SignerPem> {
    use base64::Engine;
    let state: Value = serde_json::from_str(state_json)
        .map_err(|e| Error::Runtime(format!("{STATE_FILE} is not JSON: {e}")))?;
    let asset = &state[ADMIN_KUBECONFIG_SIGNER_ASSET];
    let field = |key: &str| -> Result<String> {
        let encoded = asset[key].as_str().ok_or_else(|| {
            Error::Runtime(format!(
                "{STATE_FILE} has no {ADMIN_KUBECONFIG_SIGNER_ASSET} {key}"
            ))
        })?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| Error::Runtime(format!("{ADMIN_KUBECONFIG_SIGNER_ASSET} {key}: {e}")))?;
        String::from_utf8(bytes)
            .map_err(|e| Error::Runtime(format!("{ADMIN_KUBECONFIG_SIGNER_ASSET} {key}: {e}")))
    };
    Ok(SignerPem {
        cert: field("CertRaw")?,
        key: field("KeyRaw")?.into(),
    })
}

/// The signer's key pair. openshift-install writes RSA keys in PKCS#1 (`RSA PRIVATE KEY`), which
/// ring (rcgen's backend here) reads only inside a PKCS#8 envelope: such a key is wrapped first.
fn signer_key_pair(pem: &str) -> Result<rcgen::KeyPair> {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let invalid = |what: String| Error::Runtime(format!("admin kubeconfig signer key: {what}"));
    let key = rustls_pemfile::private_key(&mut pem.as_bytes())
        .map_err(|e| invalid(e.to_string()))?
        .ok_or_else(|| invalid("no private key".into()))?;
    let key = match key {
        PrivateKeyDer::Pkcs1(pkcs1) => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(rsa_pkcs8(
            pkcs1.secret_pkcs1_der(),
        ))),
        other => other,
    };
    rcgen::KeyPair::try_from(&key).map_err(|e| invalid(e.to_string()))
}

/// A PKCS#1 RSA private key in its PKCS#8 envelope (RFC 5208): SEQUENCE { version 0,
/// AlgorithmIdentifier { rsaEncryption, NULL }, OCTET STRING { the PKCS#1 key } }.
fn rsa_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend_from_slice(content);
        out
    }
    const VERSION_0: &[u8] = &[0x02, 0x01, 0x00];
    // SEQUENCE { OID 1.2.840.113549.1.1.1 (rsaEncryption), NULL }
    const RSA_ALGORITHM: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut body = VERSION_0.to_vec();
    body.extend_from_slice(RSA_ALGORITHM);
    body.extend(tlv(0x04, pkcs1));
    tlv(0x30, &body)
}

/// A kubeconfig for the admin kubeconfig's API server (and its CA) whose user is a new client
/// certificate for `system:admin` in `system:masters`, signed by `signer`, valid for `validity`.
pub fn user_admin_kubeconfig(
    admin_kubeconfig: &str,
    signer: &SignerPem,
    validity: Duration,
) -> Result<aro_common::Secret> {
    use base64::Engine;
    use rcgen::{
        CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair,
        KeyUsagePurpose,
    };
    let cert_error = |e: rcgen::Error| Error::Runtime(format!("user-admin certificate: {e}"));
    let kubeconfig = kube::config::Kubeconfig::from_yaml(admin_kubeconfig)
        .map_err(|e| Error::Runtime(format!("admin kubeconfig: {e}")))?;
    let server = api_url_of(admin_kubeconfig)?;
    let ca_data = kubeconfig
        .clusters
        .iter()
        .filter_map(|c| c.cluster.as_ref())
        .find(|c| c.server.as_deref() == Some(server.as_str()))
        .and_then(|c| c.certificate_authority_data.clone())
        .unwrap_or_default();
    let signer_key = signer_key_pair(signer.key.expose())?;
    let issuer = Issuer::from_ca_cert_pem(&signer.cert, signer_key).map_err(cert_error)?;
    let key = KeyPair::generate().map_err(cert_error)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
    let mut subject = DistinguishedName::new();
    subject.push(DnType::OrganizationName, super::USER_ADMIN_GROUP);
    subject.push(DnType::CommonName, super::USER_ADMIN_USER);
    params.distinguished_name = subject;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + validity;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &issuer).map_err(cert_error)?;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let ca_line = if ca_data.is_empty() {
        String::new()
    } else {
        format!("    certificate-authority-data: {ca_data}\n")
    };
    Ok(format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: cluster\n  cluster:\n    server: {server}\n{ca_line}users:\n- name: {user}\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\ncontexts:\n- name: {user}\n  context:\n    cluster: cluster\n    user: {user}\ncurrent-context: {user}\npreferences: {{}}\n",
        user = super::USER_ADMIN_USER,
        cert = b64(&cert.pem()),
        key = b64(&key.serialize_pem()),
    )
    .into())
}

/// Infra ids name directories: no separators, no leading dot.
fn validate_infra_id(infra_id: &str) -> Result<()> {
    let valid = !infra_id.is_empty()
        && !infra_id.starts_with('.')
        && infra_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(Error::Runtime(format!("invalid infra id {infra_id:?}")))
    }
}

async fn kube_client(kubeconfig: &Path) -> Result<kube::Client> {
    super::remote::client_from_kubeconfig(&read_file(kubeconfig).await?).await
}

async fn read_file(path: &Path) -> Result<String> {
    tokio::fs::read_to_string(path)
        .await
        .map_err(|e| io_error("reading", path, e))
}

/// Write a file only its owner can read (it holds the pull secret).
fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    aro_common::fs::write_private_file(path, contents).map_err(private_error)
}

fn private_error(e: aro_common::Error) -> Error {
    Error::Runtime(e.to_string())
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Runtime(format!("{what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> SeedInput {
        SeedInput {
            location: "EastUS".into(),
            subscription_id: "sub".into(),
            ..SeedInput::example()
        }
    }

    #[test]
    fn install_config_names_the_cluster_and_its_network() {
        let c = install_config(&seed());
        assert_eq!(c["apiVersion"], "v1");
        assert_eq!(c["metadata"]["name"], "demo");
        assert_eq!(c["baseDomain"], "eastus.aroapp.io");
        let azure = &c["platform"]["azure"];
        assert_eq!(azure["region"], "eastus");
        assert_eq!(azure["resourceGroupName"], "aro-demo");
        assert_eq!(azure["networkResourceGroupName"], "demo-rg");
        assert_eq!(azure["virtualNetwork"], "demo-vnet");
        assert_eq!(azure["controlPlaneSubnet"], "master");
        assert_eq!(azure["computeSubnet"], "worker");
        assert_eq!(azure["outboundType"], "Loadbalancer");
        assert_eq!(azure["cloudName"], "AzurePublicCloud");
        let net = &c["networking"];
        assert_eq!(net["clusterNetwork"][0]["cidr"], DEFAULT_POD_CIDR);
        assert_eq!(net["clusterNetwork"][0]["hostPrefix"], 23);
        assert_eq!(net["serviceNetwork"][0], DEFAULT_SERVICE_CIDR);
        assert_eq!(net["machineNetwork"][0]["cidr"], MACHINE_CIDR);
        assert_eq!(c["publish"], "External");
        assert_eq!(c["fips"], false);
    }

    #[test]
    fn install_config_pools_carry_sizes_counts_and_zones() {
        let mut s = seed();
        s.worker_count = 5;
        let c = install_config(&s);
        let master = &c["controlPlane"];
        assert_eq!(master["name"], "master");
        assert_eq!(master["replicas"], 3);
        assert_eq!(master["platform"]["azure"]["type"], "Standard_D8s_v3");
        assert_eq!(master["platform"]["azure"]["osDisk"]["diskSizeGB"], 1024);
        assert_eq!(master["platform"]["azure"]["zones"], json!(["1", "2", "3"]));
        let workers = c["compute"].as_array().unwrap();
        assert_eq!(workers.len(), 1);
        assert_eq!(workers[0]["name"], "worker");
        assert_eq!(workers[0]["replicas"], 5);
        assert_eq!(workers[0]["platform"]["azure"]["type"], "Standard_D4s_v3");
        assert_eq!(workers[0]["platform"]["azure"]["osDisk"]["diskSizeGB"], 128);
    }

    #[test]
    fn install_config_pull_secret_drops_telemetry_and_defaults_to_empty_auths() {
        assert_eq!(install_config(&seed())["pullSecret"], r#"{"auths":{}}"#);
        let mut s = seed();
        s.pull_secret =
            r#"{"auths":{"cloud.openshift.com":{"auth":"dGVs"},"quay.io":{"auth":"cXVheQ=="}}}"#
                .into();
        let secret: Value =
            serde_json::from_str(install_config(&s)["pullSecret"].as_str().unwrap()).unwrap();
        assert!(secret["auths"].get("cloud.openshift.com").is_none());
        assert_eq!(secret["auths"]["quay.io"]["auth"], "cXVheQ==");
    }

    #[test]
    fn install_config_serialises_to_yaml_the_installer_reads() {
        let yaml = serde_yaml::to_string(&install_config(&seed())).unwrap();
        assert!(yaml.contains("baseDomain: eastus.aroapp.io"));
        let back: Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(back, install_config(&seed()));
    }

    #[test]
    fn errors_carry_the_last_lines_without_the_pull_secret() {
        let pull = r#"{"auths":{"quay.io":{"auth":"c2VjcmV0LXRva2Vu"}}}"#;
        let secrets = pull_secret_fragments(pull);
        let mut text = String::from("--- 2026 aro-rp: running openshift-install create cluster\n");
        for i in 0..30 {
            text.push_str(&format!("line {i}\n"));
        }
        text.push_str(&format!("level=fatal msg=\"bad pull secret {pull}\"\n"));
        text.push_str("level=error token c2VjcmV0LXRva2Vu\n");
        let tail = tail_lines(&text, &secrets);
        assert_eq!(tail.lines().count(), ERROR_TAIL_LINES);
        assert!(tail.ends_with("level=error token <redacted>"));
        assert!(tail.contains("bad pull secret <redacted>"));
        assert!(!tail.contains("c2VjcmV0LXRva2Vu"));
        assert!(!tail.contains("line 11\n"));
        assert!(tail.contains("line 29"));
        assert!(pull_secret_fragments("").is_empty());
    }

    #[test]
    fn install_config_takes_the_whole_cluster() {
        let mut s = seed();
        s.pod_cidr = "10.200.0.0/14".into();
        s.service_cidr = "172.40.0.0/16".into();
        s.outbound_type = OutboundType::UserDefinedRouting;
        s.apiserver_visibility = Visibility::Private;
        s.ingress_visibility = Visibility::Private;
        s.fips = true;
        s.master_encryption_at_host = true;
        s.master_disk_encryption_set_id = Some(
            "/subscriptions/s1/resourceGroups/keys/providers/Microsoft.Compute/diskEncryptionSets/des1".into(),
        );
        s.worker_pools = vec![WorkerPool {
            name: "worker".into(),
            vm_size: "Standard_D8s_v3".into(),
            disk_size_gb: 256,
            count: 4,
            subnet: "nodes".into(),
            encryption_at_host: true,
            disk_encryption_set_id: None,
        }];
        s.ssh_public_key = "ssh-ed25519 AAAAC3".into();
        s.base_domain_resource_group = "rp-dns".into();
        let c = install_config(&s);
        assert_eq!(
            c["networking"]["clusterNetwork"][0]["cidr"],
            "10.200.0.0/14"
        );
        assert_eq!(c["networking"]["serviceNetwork"][0], "172.40.0.0/16");
        assert_eq!(c["platform"]["azure"]["outboundType"], "UserDefinedRouting");
        assert_eq!(c["platform"]["azure"]["computeSubnet"], "nodes");
        // Internal: no public records, so no base domain zone.
        assert_eq!(c["publish"], "Internal");
        assert!(
            c["platform"]["azure"]
                .get("baseDomainResourceGroupName")
                .is_none()
        );
        assert_eq!(c["fips"], true);
        assert_eq!(c["sshKey"], "ssh-ed25519 AAAAC3");
        let master = &c["controlPlane"]["platform"]["azure"];
        assert_eq!(master["encryptionAtHost"], true);
        assert_eq!(
            master["osDisk"]["diskEncryptionSet"],
            json!({"subscriptionId": "s1", "resourceGroup": "keys", "name": "des1"})
        );
        let worker = &c["compute"][0];
        assert_eq!(
            (worker["name"].as_str(), worker["replicas"].as_u64()),
            (Some("worker"), Some(4))
        );
        assert_eq!(worker["platform"]["azure"]["encryptionAtHost"], true);
        assert!(
            worker["platform"]["azure"]["osDisk"]
                .get("diskEncryptionSet")
                .is_none()
        );
        // A public cluster in the RP's zone names the zone's resource group.
        s.apiserver_visibility = Visibility::Public;
        s.ingress_visibility = Visibility::Public;
        let c = install_config(&s);
        assert_eq!(c["publish"], "External");
        assert_eq!(
            c["platform"]["azure"]["baseDomainResourceGroupName"],
            "rp-dns"
        );
    }

    #[test]
    fn publish_follows_both_visibilities() {
        let mut s = seed();
        let mut publish = |api, ingress| {
            s.apiserver_visibility = api;
            s.ingress_visibility = ingress;
            publishing(&s)
        };
        use Visibility::{Private, Public};
        assert_eq!(publish(Public, Public), ("External", None));
        assert_eq!(publish(Private, Private), ("Internal", None));
        assert_eq!(
            publish(Private, Public),
            (
                "Mixed",
                Some(json!({"apiserver": "Internal", "ingress": "External"}))
            )
        );
        assert_eq!(
            publish(Public, Private),
            (
                "Mixed",
                Some(json!({"apiserver": "External", "ingress": "Internal"}))
            )
        );
    }

    #[test]
    fn only_one_worker_pool_named_worker_is_installable() {
        let pool = |name: &str| WorkerPool {
            name: name.into(),
            vm_size: "Standard_D4s_v3".into(),
            disk_size_gb: 128,
            count: 3,
            subnet: "worker".into(),
            ..Default::default()
        };
        let mut s = seed();
        assert!(
            check_installable(&s).is_ok(),
            "the single-pool fields make one pool"
        );
        s.worker_pools = vec![pool("worker")];
        assert!(check_installable(&s).is_ok());
        s.worker_pools = vec![pool("worker"), pool("infra"), pool("gpu")];
        let error = check_installable(&s).unwrap_err().to_string();
        assert!(
            error.contains("3 worker profile(s)") && error.contains("infra, gpu"),
            "{error}"
        );
        s.worker_pools = vec![pool("big")];
        assert!(
            check_installable(&s)
                .unwrap_err()
                .to_string()
                .contains("big")
        );
        s.worker_pools = vec![WorkerPool {
            disk_encryption_set_id: Some("/subscriptions/s/resourceGroups/r".into()),
            ..pool("worker")
        }];
        assert!(check_installable(&s).is_err(), "a DES id that is no DES");
    }

    #[test]
    fn ssh_public_keys_are_what_ssh_keygen_derives() {
        let pem = include_str!("../../testdata/installer/ssh-key.pem");
        let public = include_str!("../../testdata/installer/ssh-key.pub");
        assert_eq!(openssh_public_key(pem).unwrap(), public.trim());
        // What ensure_ssh_key generates (rcgen's default, ECDSA P-256) reads too.
        let generated = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let line = openssh_public_key(&generated).unwrap();
        assert!(
            line.starts_with(
                "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABB"
            ),
            "{line}"
        );
        assert!(openssh_public_key("not a key").is_err());
    }

    #[test]
    fn the_redactor_takes_out_every_secret_and_the_login_password() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Redactor::new(
            dir.path(),
            pull_secret_fragments(r#"{"auths":{"q":{"auth":"dG9rZW4tdG9r"}}}"#),
        );
        r.add(["client-secret-1".to_string(), "ab".to_string()]);
        assert_eq!(
            r.redact("auth dG9rZW4tdG9r and client-secret-1"),
            "auth <redacted> and <redacted>"
        );
        assert_eq!(r.redact("ab stays"), "ab stays", "too short to be a secret");
        // The password from the installer's file, once it exists.
        std::fs::create_dir_all(dir.path().join("auth")).unwrap();
        std::fs::write(dir.path().join(KUBEADMIN_PASSWORD_FILE), "Pass1-Word2\n").unwrap();
        assert_eq!(r.redact("it is Pass1-Word2"), "it is <redacted>");
        // The login line, whatever the password.
        assert_eq!(
            redact_password_fields(
                r#"msg="Login with user: \"kubeadmin\", and password: \"Xyz12-abcde\"" x"#
            ),
            r#"msg="Login with user: \"kubeadmin\", and password: \"<redacted>\"" x"#
        );
        assert_eq!(
            redact_password_fields(r#"password: "p4ss" and password: "q""#),
            r#"password: "<redacted>" and password: "<redacted>""#
        );
        assert_eq!(redact_password_fields("password: none"), "password: none");
        assert_eq!(
            redact_password_fields(r#"password: "unterminated"#),
            r#"password: "<redacted>"#
        );
        // A file in place.
        let log = dir.path().join("log");
        std::fs::write(&log, "a client-secret-1\nb\n").unwrap();
        r.redact_file(&log);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "a <redacted>\nb\n");
        assert_eq!(aro_common::fs::mode_of(&log), 0o600);
    }

    #[test]
    fn metadata_needs_infra_id_and_cluster_name() {
        let m =
            parse_metadata(r#"{"clusterName":"demo","infraID":"demo-x7k2p","azure":{}}"#).unwrap();
        assert_eq!(m.cluster_name, "demo");
        assert_eq!(m.infra_id, "demo-x7k2p");
        assert!(parse_metadata(r#"{"clusterName":"demo"}"#).is_err());
        assert!(parse_metadata(r#"{"infraID":"x","clusterName":""}"#).is_err());
        assert!(parse_metadata("not json").is_err());
    }

    #[test]
    fn api_url_comes_from_the_current_context() {
        let kubeconfig = r#"
apiVersion: v1
kind: Config
clusters:
- name: other
  cluster: {server: "https://other:6443"}
- name: demo
  cluster: {server: "https://api.demo.eastus.aroapp.io:6443"}
contexts:
- name: admin
  context: {cluster: demo, user: admin}
current-context: admin
users:
- name: admin
  user: {token: x}
"#;
        assert_eq!(
            api_url_of(kubeconfig).unwrap(),
            "https://api.demo.eastus.aroapp.io:6443"
        );
        let single = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://c:6443\"}\n";
        assert_eq!(api_url_of(single).unwrap(), "https://c:6443");
        assert!(api_url_of("apiVersion: v1\nkind: Config\n").is_err());
    }

    #[test]
    fn infra_ids_cannot_escape_the_work_dir() {
        assert!(validate_infra_id("demo-abcde").is_ok());
        for bad in ["", "..", "../x", "a/b", ".hidden", "a b"] {
            assert!(validate_infra_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn user_admin_kubeconfig_is_signed_by_the_installers_admin_kubeconfig_signer() {
        // A throwaway signer in the installer's state-file form (RSA, PKCS#1, as openshift-install
        // writes it), made for this test with `openssl genrsa -traditional` and `openssl req -x509`.
        let state = include_str!("../../testdata/installer/openshift_install_state.json");
        let signer = admin_kubeconfig_signer(state).unwrap();
        assert!(signer.cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(signer.key.expose().contains("RSA PRIVATE KEY"));
        let admin = "apiVersion: v1\nkind: Config\nclusters:\n- name: demo\n  cluster:\n    server: https://api.demo.eastus.aroapp.io:6443\n    certificate-authority-data: Q0E=\ncontexts:\n- name: admin\n  context: {cluster: demo, user: admin}\ncurrent-context: admin\nusers:\n- name: admin\n  user: {token: x}\n";
        let year = Duration::from_secs(365 * 24 * 3600);
        let yaml = user_admin_kubeconfig(admin, &signer, year).unwrap();
        let kubeconfig = kube::config::Kubeconfig::from_yaml(yaml.expose()).unwrap();
        let cluster = kubeconfig.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(
            cluster.server.as_deref(),
            Some("https://api.demo.eastus.aroapp.io:6443")
        );
        assert_eq!(cluster.certificate_authority_data.as_deref(), Some("Q0E="));
        let user = kubeconfig.auth_infos[0].auth_info.as_ref().unwrap();
        use base64::Engine;
        let pem = base64::engine::general_purpose::STANDARD
            .decode(user.client_certificate_data.as_deref().unwrap())
            .unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
        let cert = pem.parse_x509().unwrap();
        assert_eq!(
            cert.subject().to_string(),
            "O=system:masters, CN=system:admin"
        );
        assert_eq!(
            cert.issuer().to_string(),
            "OU=openshift, CN=admin-kubeconfig-signer"
        );
        let lifetime =
            cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp();
        assert_eq!(lifetime, 365 * 24 * 3600 + 300);
        // Verifies against the signer's public key.
        let (_, signer_pem) = x509_parser::pem::parse_x509_pem(signer.cert.as_bytes()).unwrap();
        let signer_cert = signer_pem.parse_x509().unwrap();
        cert.verify_signature(Some(signer_cert.public_key()))
            .unwrap();
        assert!(admin_kubeconfig_signer("{}").is_err());
        assert!(admin_kubeconfig_signer("not json").is_err());
    }

    #[test]
    fn config_debug_hides_environment_values() {
        let mut config = InstallerConfig::new("/bin/openshift-install", "/var/lib/aro");
        config.extra_env = vec![("AZURE_CLIENT_SECRET".into(), "hunter2".into())];
        let shown = format!("{config:?}");
        assert!(shown.contains("AZURE_CLIENT_SECRET"));
        assert!(!shown.contains("hunter2"));
    }
}
