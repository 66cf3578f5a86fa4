//! The HTTPS listener: rustls with optional client certificates (any certificate whose key the
//! client proves is accepted at the TLS layer; the allow-lists decide per request), each request
//! carrying its peer certificate as a [`aro_common::serve::PeerCertificate`] extension. The
//! serving certificate is a [`ServingCertificate`], replaced when its files change.

use std::sync::{Arc, RwLock};

use aro_common::serve::{ServeOptions, Transport, serve};
use axum::Router;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};

#[derive(Debug)]
struct AnyClientCertificate {
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Trust is decided per request (validity, clientAuth usage, fingerprint allow-lists:
        // server/auth.rs), so a rejected certificate gets a 401 body rather than a failed
        // handshake, and one that expires mid-connection stops working at its next request.
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The serving certificate and key, replaceable while the listener runs (a reload of the files
/// takes effect at the next handshake; established connections keep theirs).
#[derive(Debug)]
pub struct ServingCertificate {
    current: RwLock<Arc<CertifiedKey>>,
}

fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Tls(format!("server certificate: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Tls("no certificate in the certificate file".into()));
    }
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| Error::Tls(format!("server key: {e}")))?
        .ok_or_else(|| Error::Tls("no private key in the key file".into()))?;
    CertifiedKey::from_der(certs, key, &rustls::crypto::ring::default_provider())
        .map_err(|e| Error::Tls(format!("server certificate and key: {e}")))
}

impl ServingCertificate {
    /// From a PEM certificate chain and key (which must belong together).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self> {
        Ok(ServingCertificate {
            current: RwLock::new(Arc::new(certified_key(cert_pem, key_pem)?)),
        })
    }

    /// Replace the certificate; on an error the current one stays.
    pub fn replace_from_pem(&self, cert_pem: &[u8], key_pem: &[u8]) -> Result<()> {
        let key = Arc::new(certified_key(cert_pem, key_pem)?);
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = key;
        Ok(())
    }
}

impl ResolvesServerCert for ServingCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone(),
        )
    }
}

/// A rustls server configuration from PEM certificate chain and key.
pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<rustls::ServerConfig> {
    server_config_with(Arc::new(ServingCertificate::from_pem(cert_pem, key_pem)?))
}

/// A rustls server configuration serving `cert` (which may be replaced later).
pub fn server_config_with(cert: Arc<ServingCertificate>) -> Result<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AnyClientCertificate {
        algorithms: provider.signature_verification_algorithms,
    });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(cert);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Serve `app` over TLS on `listener` until `shutdown`, on the hardened serve path
/// ([`aro_common::serve`]) with its production limits.
pub async fn serve_tls(
    listener: TcpListener,
    config: rustls::ServerConfig,
    app: Router,
    shutdown: CancellationToken,
) {
    serve(
        listener,
        Transport::Tls(Arc::new(config)),
        app,
        ServeOptions::default(),
        shutdown,
    )
    .await
}
