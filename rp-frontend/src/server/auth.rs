//! Client-certificate authentication and route authorization.
//!
//! The TLS listener accepts any client certificate whose key the client proves; each request then
//! authenticates its leaf certificate here (validity period, clientAuth usage, SHA-256 fingerprint
//! on the ARM or the admin allow-list) and is authorized by the audience of the route it matched
//! (see `routes.rs`), never by its query:
//!
//! * no certificate, an unparseable, expired, not-yet-valid or non-client-auth certificate, or
//!   a fingerprint on no list: `401 Unauthorized`;
//! * a known identity on a route its audience does not allow: `403 Forbidden`;
//! * public routes (health, operations list, OpenAPI): everyone.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use axum::http::StatusCode;

use crate::error::{Error, Result};

/// The DER of the client's leaf certificate, added to each request by the TLS listener.
pub use aro_common::serve::PeerCertificate;

/// Lowercase hex SHA-256 of DER bytes.
pub use aro_common::serve::fingerprint;

/// A fingerprint as the allow-lists store it (64 lowercase hex digits), from any spelling with
/// colons and either case; `None` if it is not a SHA-256 fingerprint.
pub fn normalize_fingerprint(raw: &str) -> Option<String> {
    let f: String = raw.trim().replace(':', "").to_ascii_lowercase();
    (f.len() == 64 && f.bytes().all(|b| b.is_ascii_hexdigit())).then_some(f)
}

/// Fingerprints of a flag's entries; an error names the flag and the entry's position.
pub fn parse_fingerprint_flag(flag: &str, entries: &[String]) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for (i, entry) in entries.iter().enumerate() {
        if entry.trim().is_empty() {
            continue;
        }
        let f = normalize_fingerprint(entry).ok_or_else(|| {
            Error::Config(format!(
                "{flag}: entry {} ({entry:?}) is not a SHA-256 fingerprint (64 hex digits, colons allowed)",
                i + 1
            ))
        })?;
        out.insert(f);
    }
    Ok(out)
}

/// Fingerprints of an allow-list file: one or more per line (separated by commas or blanks),
/// `#` starts a comment. An error names the file and the line.
pub fn parse_fingerprint_file(name: &str, text: &str) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or_default();
        for entry in content
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
        {
            let f = normalize_fingerprint(entry).ok_or_else(|| {
                Error::Config(format!(
                    "{name}: line {} ({entry:?}) is not a SHA-256 fingerprint (64 hex digits, colons allowed)",
                    n + 1
                ))
            })?;
            out.insert(f);
        }
    }
    Ok(out)
}

/// The ARM and admin allow-lists at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FingerprintLists {
    /// ARM's certificates (the customer API).
    pub arm: BTreeSet<String>,
    /// SRE certificates (admin API).
    pub admin: BTreeSet<String>,
}

/// Where the allow-lists come from: flags (fixed) and files (re-read when they change).
#[derive(Clone, Debug, Default)]
pub struct AllowListSources {
    /// Fingerprints given as flags, ARM.
    pub arm: BTreeSet<String>,
    /// Fingerprints given as flags, admin.
    pub admin: BTreeSet<String>,
    /// File of ARM fingerprints.
    pub arm_file: Option<PathBuf>,
    /// File of admin fingerprints.
    pub admin_file: Option<PathBuf>,
}

impl AllowListSources {
    /// The files to watch.
    pub fn files(&self) -> Vec<PathBuf> {
        self.arm_file
            .iter()
            .chain(&self.admin_file)
            .cloned()
            .collect()
    }

    /// The lists: the flags' fingerprints plus the files' current contents.
    pub fn load(&self) -> Result<FingerprintLists> {
        let read = |path: &Option<PathBuf>| -> Result<BTreeSet<String>> {
            let Some(path) = path else {
                return Ok(BTreeSet::new());
            };
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                context: format!("reading {}", path.display()),
                source,
            })?;
            parse_fingerprint_file(&path.display().to_string(), &text)
        };
        let mut lists = FingerprintLists {
            arm: self.arm.clone(),
            admin: self.admin.clone(),
        };
        lists.arm.extend(read(&self.arm_file)?);
        lists.admin.extend(read(&self.admin_file)?);
        Ok(lists)
    }
}

/// The live allow-lists, shared by every request and replaced as a whole on reload.
#[derive(Clone, Debug, Default)]
pub struct AllowLists(Arc<RwLock<Arc<FingerprintLists>>>);

impl AllowLists {
    /// Lists holding `lists`.
    pub fn new(lists: FingerprintLists) -> Self {
        AllowLists(Arc::new(RwLock::new(Arc::new(lists))))
    }

    /// The current lists.
    pub fn current(&self) -> Arc<FingerprintLists> {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Replace the lists (a reload).
    pub fn replace(&self, lists: FingerprintLists) {
        *self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(lists);
    }
}

/// Who may call the frontend.
#[derive(Clone, Debug)]
pub enum AuthMode {
    /// Everyone (loopback listeners only; `run` refuses it elsewhere).
    None,
    /// Client certificates by SHA-256 fingerprint.
    ClientCertificates(AllowLists),
}

impl AuthMode {
    /// Client certificates with fixed lists; every fingerprint must be 64 hex digits (colons
    /// and upper case allowed).
    pub fn client_certificates(
        arm: impl IntoIterator<Item = String>,
        admin: impl IntoIterator<Item = String>,
    ) -> Result<Self> {
        let arm: Vec<String> = arm.into_iter().collect();
        let admin: Vec<String> = admin.into_iter().collect();
        Ok(AuthMode::ClientCertificates(AllowLists::new(
            FingerprintLists {
                arm: parse_fingerprint_flag("ARM allow-list", &arm)?,
                admin: parse_fingerprint_flag("admin allow-list", &admin)?,
            },
        )))
    }
}

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Everyone, without a certificate (health, operations list, OpenAPI).
    Public,
    /// ARM's certificates: the customer API.
    Arm,
    /// SRE certificates: `/admin/...`.
    Admin,
}

/// Why a client certificate does not authenticate anyone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// No client certificate.
    NoCertificate,
    /// Not a parseable X.509 certificate.
    Unparseable,
    /// Before notBefore.
    NotYetValid,
    /// After notAfter.
    Expired,
    /// An extended key usage without clientAuth.
    NotForClientAuth,
    /// A valid certificate on no allow-list.
    UnknownCertificate,
}

impl Rejection {
    /// A short label for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::NoCertificate => "no client certificate",
            Rejection::Unparseable => "unparseable certificate",
            Rejection::NotYetValid => "certificate not yet valid",
            Rejection::Expired => "certificate expired",
            Rejection::NotForClientAuth => "certificate not for client authentication",
            Rejection::UnknownCertificate => "certificate on no allow-list",
        }
    }
}

/// Checks of a client leaf certificate at `now` (Unix seconds), as Go's x509 verification with
/// `ExtKeyUsageClientAuth` does: inside notBefore..notAfter, and an extended key usage, when
/// present, lists clientAuth (or any usage). Returns the subject.
pub fn check_client_certificate(der: &[u8], now: i64) -> std::result::Result<String, Rejection> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| Rejection::Unparseable)?;
    let validity = cert.validity();
    if now < validity.not_before.timestamp() {
        return Err(Rejection::NotYetValid);
    }
    if now > validity.not_after.timestamp() {
        return Err(Rejection::Expired);
    }
    match cert.extended_key_usage() {
        Ok(None) => {}
        Ok(Some(eku)) if eku.value.client_auth || eku.value.any => {}
        Ok(Some(_)) | Err(_) => return Err(Rejection::NotForClientAuth),
    }
    Ok(cert.subject().to_string())
}

/// The caller of one request, as authentication found it.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// SHA-256 of the client certificate, if one was presented.
    pub fingerprint: Option<String>,
    /// Subject of the client certificate, if it parsed.
    pub subject: Option<String>,
    /// On the ARM allow-list (and valid).
    pub arm: bool,
    /// On the admin allow-list (and valid).
    pub admin: bool,
    /// Authentication is off (`AuthMode::None`): every audience is allowed.
    pub unrestricted: bool,
    /// Why the certificate authenticates no one.
    pub rejection: Option<Rejection>,
}

impl Caller {
    /// Authenticate the certificate of a request under `mode` at `now` (Unix seconds).
    pub fn identify(mode: &AuthMode, cert: Option<&PeerCertificate>, now: i64) -> Caller {
        let mut caller = Caller {
            fingerprint: cert.map(PeerCertificate::fingerprint),
            ..Caller::default()
        };
        let checked = cert.map(|c| check_client_certificate(&c.0, now));
        if let Some(Ok(subject)) = &checked {
            caller.subject = Some(subject.clone());
        }
        let AuthMode::ClientCertificates(lists) = mode else {
            caller.unrestricted = true;
            return caller;
        };
        match (checked, &caller.fingerprint) {
            (None, _) | (_, None) => caller.rejection = Some(Rejection::NoCertificate),
            (Some(Err(rejection)), _) => caller.rejection = Some(rejection),
            (Some(Ok(_)), Some(fp)) => {
                let lists = lists.current();
                caller.arm = lists.arm.contains(fp);
                caller.admin = lists.admin.contains(fp);
                if !caller.arm && !caller.admin {
                    caller.rejection = Some(Rejection::UnknownCertificate);
                }
            }
        }
        caller
    }

    /// Which identities the caller holds, for logs.
    pub fn identity(&self) -> &'static str {
        match (self.unrestricted, self.arm, self.admin) {
            (true, _, _) => "unrestricted",
            (false, true, true) => "arm+admin",
            (false, true, false) => "arm",
            (false, false, true) => "admin",
            (false, false, false) => "unauthenticated",
        }
    }

    /// `401` for a caller that is no one, `403` for a known caller outside the audience.
    pub fn authorize(&self, audience: Audience) -> Result<()> {
        let allowed = match audience {
            Audience::Public => return Ok(()),
            _ if self.unrestricted => return Ok(()),
            Audience::Arm => self.arm,
            Audience::Admin => self.admin,
        };
        if allowed {
            Ok(())
        } else if self.arm || self.admin {
            Err(Error::arm(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "The client certificate is not allowed to call this route.",
            ))
        } else {
            Err(Error::arm(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "The request is not authenticated: a valid client certificate on the resource provider's allow-lists is required.",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2027-01-15T00:00:00Z.
    const NOW: i64 = 1_799_971_200;
    type Validity = ((i32, u8, u8), (i32, u8, u8));
    /// Validity periods: around NOW, before it, after it.
    const CURRENT: Validity = ((2027, 1, 1), (2027, 2, 1));
    const PAST: Validity = ((2026, 1, 1), (2026, 2, 1));
    const FUTURE: Validity = ((2027, 6, 1), (2027, 7, 1));

    fn cert(name: &str, eku: &[rcgen::ExtendedKeyUsagePurpose], validity: Validity) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        params.extended_key_usages = eku.to_vec();
        let ((y0, m0, d0), (y1, m1, d1)) = validity;
        params.not_before = rcgen::date_time_ymd(y0, m0, d0);
        params.not_after = rcgen::date_time_ymd(y1, m1, d1);
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn fingerprints_are_64_hex_digits() {
        let hex = "AB:".repeat(31) + "AB";
        assert_eq!(normalize_fingerprint(&hex), Some("ab".repeat(32)));
        assert_eq!(normalize_fingerprint(&"0".repeat(63)), None);
        assert_eq!(normalize_fingerprint(&"g".repeat(64)), None);
        let err =
            parse_fingerprint_flag("--arm-client-cert-sha256", &["0".repeat(64), "xyz".into()])
                .unwrap_err()
                .to_string();
        assert!(err.contains("--arm-client-cert-sha256: entry 2"), "{err}");
        let file = format!(
            "# ARM\n{}  # current\n\n{}, {}\n",
            "a".repeat(64),
            "b".repeat(64),
            "C".repeat(64)
        );
        assert_eq!(parse_fingerprint_file("f", &file).unwrap().len(), 3);
        let err = parse_fingerprint_file("arm.txt", "# x\nnope\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("arm.txt: line 2"), "{err}");
    }

    #[test]
    fn certificate_checks() {
        use rcgen::ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
        let ok = cert("arm", &[ClientAuth], CURRENT);
        assert!(check_client_certificate(&ok, NOW).unwrap().contains("CN="));
        // No extended key usage at all: any usage, as Go's verifier reads it.
        let any = cert("any", &[], CURRENT);
        assert!(check_client_certificate(&any, NOW).is_ok());
        let expired = cert("old", &[ClientAuth], PAST);
        assert_eq!(
            check_client_certificate(&expired, NOW),
            Err(Rejection::Expired)
        );
        let future = cert("new", &[ClientAuth], FUTURE);
        assert_eq!(
            check_client_certificate(&future, NOW),
            Err(Rejection::NotYetValid)
        );
        let server = cert("srv", &[ServerAuth], CURRENT);
        assert_eq!(
            check_client_certificate(&server, NOW),
            Err(Rejection::NotForClientAuth)
        );
        assert_eq!(
            check_client_certificate(b"garbage", NOW),
            Err(Rejection::Unparseable)
        );
    }

    #[test]
    fn identities_and_audiences() {
        use rcgen::ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
        let arm = PeerCertificate(cert("arm", &[ClientAuth], CURRENT));
        let admin = PeerCertificate(cert("sre", &[ClientAuth], CURRENT));
        let unknown = PeerCertificate(cert("who", &[ClientAuth], CURRENT));
        let wrong_eku = PeerCertificate(cert("srv", &[ServerAuth], CURRENT));
        let mode = AuthMode::client_certificates(
            [arm.fingerprint(), wrong_eku.fingerprint()],
            [admin.fingerprint()],
        )
        .unwrap();
        let status =
            |cert: Option<&PeerCertificate>, audience| match Caller::identify(&mode, cert, NOW)
                .authorize(audience)
            {
                Ok(()) => 200,
                Err(e) => e.to_status_and_body().0.as_u16(),
            };
        for (cert, public, arm_route, admin_route) in [
            (None, 200, 401, 401),
            (Some(&unknown), 200, 401, 401),
            (Some(&wrong_eku), 200, 401, 401),
            (Some(&arm), 200, 200, 403),
            (Some(&admin), 200, 403, 200),
        ] {
            assert_eq!(
                [
                    status(cert, Audience::Public),
                    status(cert, Audience::Arm),
                    status(cert, Audience::Admin)
                ],
                [public, arm_route, admin_route],
                "{:?}",
                cert.map(PeerCertificate::fingerprint)
            );
        }
        // An allow-list replaced at run time applies to the next request.
        let AuthMode::ClientCertificates(lists) = &mode else {
            unreachable!()
        };
        let mut next = (*lists.current()).clone();
        next.arm.insert(unknown.fingerprint());
        lists.replace(next);
        assert_eq!(status(Some(&unknown), Audience::Arm), 200);
        let open = Caller::identify(&AuthMode::None, None, NOW);
        assert!(open.authorize(Audience::Admin).is_ok());
        assert_eq!(open.identity(), "unrestricted");
    }
}
