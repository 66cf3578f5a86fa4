//! The frontend's certificates in TLS mode: a self-signed server certificate and the one client
//! certificate the frontend accepts on the customer and admin APIs, created once in the data
//! directory (keys owner-only).

use std::path::{Path, PathBuf};

use crate::{Error, Result, io, private};

/// Paths of the frontend's certificates.
#[derive(Clone, Debug)]
pub struct FrontendCerts {
    /// Server certificate (also its own CA: self-signed).
    pub server_cert: PathBuf,
    /// Server key.
    pub server_key: PathBuf,
    /// Client certificate allowed on the customer and admin APIs.
    pub client_cert: PathBuf,
    /// Client key.
    pub client_key: PathBuf,
}

/// Self-signed server and client certificates, created once in `dir` (owner-only: the keys).
pub(crate) fn ensure_certs(dir: &Path) -> Result<FrontendCerts> {
    aro_common::fs::create_private_dir(dir).map_err(private)?;
    let certs = FrontendCerts {
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server-key.pem"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client-key.pem"),
    };
    let make = |names: Vec<String>, cert: &Path, key: &Path| -> Result<()> {
        if cert.exists() && key.exists() {
            return Ok(());
        }
        let generated = rcgen::generate_simple_self_signed(names)
            .map_err(|e| Error::System(format!("generating a certificate: {e}")))?;
        aro_common::fs::write_private_file(cert, generated.cert.pem().as_bytes())
            .map_err(private)?;
        aro_common::fs::write_private_file(key, generated.signing_key.serialize_pem().as_bytes())
            .map_err(private)?;
        Ok(())
    };
    make(
        vec!["localhost".into(), "127.0.0.1".into()],
        &certs.server_cert,
        &certs.server_key,
    )?;
    make(
        vec!["arm-client".into()],
        &certs.client_cert,
        &certs.client_key,
    )?;
    Ok(certs)
}

pub(crate) fn fingerprint_of(pem_path: &Path) -> Result<String> {
    let pem = std::fs::read(pem_path).map_err(io("reading the client certificate"))?;
    let der = rustls_pemfile_first_cert(&pem)?;
    Ok(rp_frontend::server::auth::fingerprint(&der))
}

fn rustls_pemfile_first_cert(pem: &[u8]) -> Result<Vec<u8>> {
    // PEM body between the markers, base64-decoded.
    use base64::Engine;
    let text = String::from_utf8_lossy(pem);
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END CERTIFICATE-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|e| Error::System(format!("client certificate PEM: {e}")))
}
