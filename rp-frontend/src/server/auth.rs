//! Client-certificate authentication: the TLS listener accepts any client certificate whose key
//! the client proves; the request pipeline then checks the certificate's SHA-256 fingerprint
//! against the ARM or the admin allow-list, before routing (403 otherwise).

use std::collections::BTreeSet;

use axum::http::{Extensions, StatusCode};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The DER of the client's leaf certificate, added to each request by the TLS listener.
pub use aro_common::serve::PeerCertificate;

/// Lowercase hex SHA-256 of DER bytes.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Who may call the frontend.
#[derive(Clone, Debug)]
pub enum AuthMode {
    /// Everyone (loopback listeners only; `run` refuses it elsewhere).
    None,
    /// Client certificates by SHA-256 fingerprint.
    ClientCertificates {
        /// ARM's certificates (the customer API).
        arm: BTreeSet<String>,
        /// SRE certificates (admin API).
        admin: BTreeSet<String>,
    },
}

/// 403 unless the request's certificate is on the right allow-list.
pub fn authorize(mode: &AuthMode, extensions: &Extensions, is_admin: bool) -> Result<()> {
    let AuthMode::ClientCertificates { arm, admin } = mode else {
        return Ok(());
    };
    let allowed = extensions
        .get::<PeerCertificate>()
        .map(PeerCertificate::fingerprint)
        .is_some_and(|fp| {
            if is_admin {
                admin.contains(&fp)
            } else {
                arm.contains(&fp)
            }
        });
    if allowed {
        Ok(())
    } else {
        Err(Error::arm(StatusCode::FORBIDDEN, "Forbidden", "Forbidden."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_are_separate() {
        let cert = PeerCertificate(b"arm-cert".to_vec());
        let mode = AuthMode::ClientCertificates {
            arm: [cert.fingerprint()].into(),
            admin: BTreeSet::new(),
        };
        let mut ext = Extensions::new();
        assert!(authorize(&mode, &ext, false).is_err(), "no certificate");
        ext.insert(cert);
        assert!(authorize(&mode, &ext, false).is_ok());
        assert!(
            authorize(&mode, &ext, true).is_err(),
            "ARM cert is not admin"
        );
        assert!(authorize(&AuthMode::None, &Extensions::new(), true).is_ok());
    }
}
