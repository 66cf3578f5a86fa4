//! The cluster's PKI: a CA generated at first start and kept in the data dir, a serving
//! certificate re-issued at every start for the addresses served, an admin client certificate
//! and an admin bearer token; plus the kubeconfig that kubectl and kube-rs use as-is.

use std::net::IpAddr;
use std::path::Path;

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

use crate::error::Error;

/// Certificates and credentials of one devcluster.
#[derive(Clone)]
pub struct Pki {
    pub ca_cert_pem: String,
    ca_key_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub admin_cert_pem: String,
    pub admin_key_pem: String,
    pub admin_token: aro_common::Secret,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pki { .. }")
    }
}

fn cert_err(e: impl std::fmt::Display) -> Error {
    Error::Certificates(e.to_string())
}

fn read_opt(dir: Option<&Path>, name: &str) -> Option<String> {
    dir.and_then(|d| std::fs::read_to_string(d.join(name)).ok())
}

fn write_private(dir: &Path, name: &str, content: &str) -> Result<(), Error> {
    aro_common::fs::write_private_file(&dir.join(name), content.as_bytes())
        .map_err(Error::PrivateFile)
}

impl Pki {
    /// Load the CA, admin credentials and token from `dir` (creating them at first start), and
    /// issue a serving certificate for `hosts` (DNS names or IPs).
    pub fn load_or_create(dir: Option<&Path>, hosts: &[String]) -> Result<Pki, Error> {
        let (ca_cert_pem, ca_key_pem) = match (read_opt(dir, "ca.crt"), read_opt(dir, "ca.key")) {
            (Some(c), Some(k)) => (c, k),
            _ => {
                let key = KeyPair::generate().map_err(cert_err)?;
                let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_err)?;
                params.distinguished_name = name("devcluster-ca", None);
                params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                params.key_usages = vec![
                    KeyUsagePurpose::KeyCertSign,
                    KeyUsagePurpose::CrlSign,
                    KeyUsagePurpose::DigitalSignature,
                ];
                params.not_after = rcgen::date_time_ymd(2100, 1, 1);
                let cert = params.self_signed(&key).map_err(cert_err)?;
                let (c, k) = (cert.pem(), key.serialize_pem());
                if let Some(d) = dir {
                    write_private(d, "ca.crt", &c)?;
                    write_private(d, "ca.key", &k)?;
                }
                (c, k)
            }
        };
        let mut pki = Pki {
            ca_cert_pem,
            ca_key_pem,
            server_cert_pem: String::new(),
            server_key_pem: String::new(),
            admin_cert_pem: String::new(),
            admin_key_pem: String::new(),
            admin_token: Default::default(),
        };
        (pki.server_cert_pem, pki.server_key_pem) =
            pki.issue(hosts, "devcluster-apiserver", None, true, None)?;
        match (read_opt(dir, "admin.crt"), read_opt(dir, "admin.key")) {
            (Some(c), Some(k)) => (pki.admin_cert_pem, pki.admin_key_pem) = (c, k),
            _ => {
                (pki.admin_cert_pem, pki.admin_key_pem) =
                    pki.issue_client("devcluster-admin", &["system:masters"])?;
                if let Some(d) = dir {
                    write_private(d, "admin.crt", &pki.admin_cert_pem)?;
                    write_private(d, "admin.key", &pki.admin_key_pem)?;
                }
            }
        }
        pki.admin_token = match read_opt(dir, "admin.token") {
            Some(t) if !t.trim().is_empty() => t.trim().into(),
            _ => {
                let bytes: [u8; 32] = rand::random();
                let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
                if let Some(d) = dir {
                    write_private(d, "admin.token", &token)?;
                }
                token.into()
            }
        };
        Ok(pki)
    }

    /// A client certificate for `user` in `groups`, signed by the cluster CA.
    pub fn issue_client(&self, user: &str, groups: &[&str]) -> Result<(String, String), Error> {
        let org = groups.first().copied();
        self.issue(&[], user, org, false, None)
    }

    /// A client certificate for `user` in `groups`, signed by the cluster CA, that expires after
    /// `validity` (a break-glass credential handed to a person).
    pub fn issue_client_valid_for(
        &self,
        user: &str,
        groups: &[&str],
        validity: std::time::Duration,
    ) -> Result<(String, String), Error> {
        let org = groups.first().copied();
        self.issue(&[], user, org, false, Some(validity))
    }

    fn issue(
        &self,
        hosts: &[String],
        cn: &str,
        org: Option<&str>,
        server: bool,
        validity: Option<std::time::Duration>,
    ) -> Result<(String, String), Error> {
        let ca_key = KeyPair::from_pem(&self.ca_key_pem).map_err(cert_err)?;
        let issuer = Issuer::from_ca_cert_pem(&self.ca_cert_pem, ca_key).map_err(cert_err)?;
        let key = KeyPair::generate().map_err(cert_err)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_err)?;
        params.distinguished_name = name(cn, org);
        params.not_after = match validity {
            Some(validity) => {
                let now = time::OffsetDateTime::now_utc();
                // Backdated a little, as kube-apiserver's signers do, for clocks running behind.
                params.not_before = now - time::Duration::minutes(5);
                now + validity
            }
            None => rcgen::date_time_ymd(2100, 1, 1),
        };
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        if server {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            for h in hosts {
                let san = match h.parse::<IpAddr>() {
                    Ok(ip) => SanType::IpAddress(ip),
                    Err(_) => SanType::DnsName(h.clone().try_into().map_err(cert_err)?),
                };
                params.subject_alt_names.push(san);
            }
        } else {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        let cert = params.signed_by(&key, &issuer).map_err(cert_err)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// A kubeconfig for `server` with two users: `admin` (bearer token, the current context)
    /// and `admin-cert` (client certificate).
    pub fn kubeconfig(&self, server: &str, cluster_name: &str) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {cluster_name}\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: admin\n  user:\n    token: {token}\n- name: admin-cert\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\ncontexts:\n- name: {cluster_name}\n  context:\n    cluster: {cluster_name}\n    user: admin\n- name: {cluster_name}-cert\n  context:\n    cluster: {cluster_name}\n    user: admin-cert\ncurrent-context: {cluster_name}\npreferences: {{}}\n",
            ca = b64(&self.ca_cert_pem),
            token = self.admin_token.expose(),
            cert = b64(&self.admin_cert_pem),
            key = b64(&self.admin_key_pem),
        )
    }
}

fn name(cn: &str, org: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    if let Some(o) = org {
        dn.push(DnType::OrganizationName, o);
    }
    dn
}

/// The user named by a verified client certificate: its CN and O values.
pub fn identity_of(der: &[u8]) -> Option<(String, Vec<String>)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let cn = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_string))
        .collect();
    Some((cn, groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pki_persists_ca_and_token_but_reissues_serving_cert() {
        let dir = tempfile::tempdir().unwrap();
        let a = Pki::load_or_create(Some(dir.path()), &["127.0.0.1".into(), "localhost".into()])
            .unwrap();
        let b = Pki::load_or_create(Some(dir.path()), &["127.0.0.1".into()]).unwrap();
        assert_eq!(a.ca_cert_pem, b.ca_cert_pem);
        assert_eq!(a.admin_token, b.admin_token);
        assert_eq!(a.admin_cert_pem, b.admin_cert_pem);
        assert_ne!(a.server_cert_pem, b.server_cert_pem);
        let der = rustls_pemfile::certs(&mut a.admin_cert_pem.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        let (cn, groups) = identity_of(&der).unwrap();
        assert_eq!(cn, "devcluster-admin");
        assert_eq!(groups, vec!["system:masters".to_string()]);
        let kubeconfig: serde_yaml::Value =
            serde_yaml::from_str(&a.kubeconfig("https://127.0.0.1:1", "devcluster")).unwrap();
        assert_eq!(kubeconfig["current-context"], "devcluster");
    }

    #[test]
    fn a_durable_cluster_keeps_its_data_owner_only_under_a_permissive_umask() {
        use aro_common::fs::{mode_of, rerun_with_umask};
        if !rerun_with_umask(
            "certs::tests::a_durable_cluster_keeps_its_data_owner_only_under_a_permissive_umask",
            0o000,
        ) {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("clusters/one");
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let dc = crate::Devcluster::start(crate::DevclusterConfig::durable(&data))
                .await
                .unwrap();
            assert_eq!(
                dc.kubeconfig_path.as_deref(),
                Some(&*data.join("kubeconfig"))
            );
            dc.stop().await;
        });
        for dir in ["clusters", "clusters/one"] {
            assert_eq!(mode_of(&tmp.path().join(dir)), 0o700, "{dir}");
        }
        let mut files: Vec<String> = std::fs::read_dir(&data)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(
            files,
            [
                "admin.crt",
                "admin.key",
                "admin.token",
                "ca.crt",
                "ca.key",
                "devcluster.redb",
                "encryption-config.yaml",
                "kubeconfig",
                "service-account.key"
            ]
        );
        for f in &files {
            assert_eq!(mode_of(&data.join(f)), 0o600, "{f}");
        }
    }
}
