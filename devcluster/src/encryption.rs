//! Encryption at rest of Secrets, as kube-apiserver's `EncryptionConfiguration` with the `aesgcm`
//! provider: a durable devcluster never writes a Secret's JSON to its database in the clear.
//!
//! The configuration is kube-apiserver's file format (`apiserver.config.k8s.io/v1`,
//! `EncryptionConfiguration`): for the resource `secrets`, an `aesgcm` provider with named
//! 32-byte keys (base64), optionally followed by `identity`. The first key encrypts every write;
//! every key decrypts. Without a configuration file a durable devcluster makes one in its data
//! dir (`encryption-config.yaml`, owner-only) with one random key.
//!
//! Rotation works as in kube-apiserver: put a new key first and restart. Where kube-apiserver
//! then needs every Secret rewritten by hand, devcluster re-encrypts the Secrets stored under an
//! older key (or in the clear) with the first key when it opens its database; after that restart
//! the old key can be removed.
//!
//! Stored form, as kube-apiserver's: `k8s:enc:aesgcm:v1:<key name>:` + 12-byte random nonce +
//! ciphertext and tag.

use std::path::{Path, PathBuf};

use base64::Engine;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};

use crate::error::Error;

/// The prefix of a value the `aesgcm` provider wrote.
const PREFIX: &[u8] = b"k8s:enc:aesgcm:v1:";
/// The configuration file a durable devcluster makes when it is given none.
pub const DEFAULT_CONFIG_FILE: &str = "encryption-config.yaml";

/// The keys of the `aesgcm` provider for Secrets.
pub struct Encryption {
    /// Name and key; the first encrypts.
    keys: Vec<(String, LessSafeKey)>,
    /// Where the configuration came from (for errors).
    source: PathBuf,
}

impl std::fmt::Debug for Encryption {
    // The keys are secrets: only their names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryption")
            .field(
                "keys",
                &self.keys.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("source", &self.source)
            .finish()
    }
}

/// Whether the object stored under `key` is encrypted at rest (Secrets, core group).
pub fn is_encrypted_resource(key: &str) -> bool {
    key.starts_with("/secrets/")
}

impl Encryption {
    /// The configuration in `file`, or, without one, the data dir's own (made on first use).
    pub fn load_or_create(data_dir: &Path, file: Option<&Path>) -> Result<Self, Error> {
        let path = match file {
            Some(file) => file.to_path_buf(),
            None => {
                let path = data_dir.join(DEFAULT_CONFIG_FILE);
                if !path.exists() {
                    let yaml = serde_yaml::to_string(&new_config()?)
                        .map_err(|e| Error::Encryption(e.to_string()))?;
                    aro_common::fs::write_private_file(&path, yaml.as_bytes())
                        .map_err(Error::PrivateFile)?;
                }
                path
            }
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::Encryption(format!("{}: {e}", path.display())))?;
        Self::parse(&text, path)
    }

    /// Parse an `EncryptionConfiguration` (YAML or JSON).
    pub fn parse(text: &str, source: PathBuf) -> Result<Self, Error> {
        let invalid = |why: String| Error::Encryption(format!("{}: {why}", source.display()));
        let config: Value =
            serde_yaml::from_str(text).map_err(|e| invalid(format!("not YAML: {e}")))?;
        if config["kind"] != "EncryptionConfiguration" {
            return Err(invalid("kind must be EncryptionConfiguration".into()));
        }
        let resources = config["resources"].as_array().cloned().unwrap_or_default();
        let for_secrets = resources
            .iter()
            .find(|r| {
                r["resources"]
                    .as_array()
                    .is_some_and(|names| names.iter().any(|n| n == "secrets"))
            })
            .ok_or_else(|| invalid("no entry for the resource secrets".into()))?;
        let providers = for_secrets["providers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let first = providers
            .first()
            .ok_or_else(|| invalid("no provider for secrets".into()))?;
        let Some(aesgcm) = first.get("aesgcm") else {
            return Err(invalid(
                "the first provider for secrets must be aesgcm (devcluster does not store Secrets in the clear)".into(),
            ));
        };
        let mut keys = Vec::new();
        for key in aesgcm["keys"].as_array().cloned().unwrap_or_default() {
            let name = key["name"]
                .as_str()
                .filter(|n| !n.is_empty() && !n.contains(':'))
                .ok_or_else(|| invalid("every key needs a name without ':'".into()))?
                .to_string();
            let secret = base64::engine::general_purpose::STANDARD
                .decode(key["secret"].as_str().unwrap_or_default())
                .map_err(|e| invalid(format!("key {name}: secret is not base64: {e}")))?;
            if secret.len() != 32 {
                return Err(invalid(format!(
                    "key {name}: devcluster's aesgcm keys are 32 bytes, not {}",
                    secret.len()
                )));
            }
            let unbound = UnboundKey::new(&AES_256_GCM, &secret)
                .map_err(|_| invalid(format!("key {name}: not an AES-256 key")))?;
            if keys.iter().any(|(n, _)| n == &name) {
                return Err(invalid(format!("key {name} is named twice")));
            }
            keys.push((name, LessSafeKey::new(unbound)));
        }
        if keys.is_empty() {
            return Err(invalid("the aesgcm provider has no keys".into()));
        }
        Ok(Self { keys, source })
    }

    /// The name of the key new writes are encrypted with.
    pub fn primary(&self) -> &str {
        &self.keys[0].0
    }

    /// `plain` encrypted with the first key.
    pub fn encrypt(&self, plain: &[u8]) -> Result<Vec<u8>, Error> {
        let (name, key) = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::Encryption("no randomness for a nonce".into()))?;
        let mut sealed = plain.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut sealed,
        )
        .map_err(|_| Error::Encryption("encrypting failed".into()))?;
        let mut out = Vec::with_capacity(PREFIX.len() + name.len() + 1 + NONCE_LEN + sealed.len());
        out.extend_from_slice(PREFIX);
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// A stored value in the clear, and whether it should be written again with the first key
    /// (stored in the clear or under another key).
    pub fn decrypt(&self, stored: &[u8], what: &str) -> Result<(Vec<u8>, bool), Error> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            // Written before encryption was on (identity): read it, encrypt it next time.
            return Ok((stored.to_vec(), true));
        };
        let cannot = |why: &str| {
            Error::Encryption(format!(
                "{what} cannot be decrypted with the keys of {}: {why}",
                self.source.display()
            ))
        };
        let colon = rest
            .iter()
            .position(|b| *b == b':')
            .ok_or_else(|| cannot("no key name"))?;
        let name = std::str::from_utf8(&rest[..colon]).map_err(|_| cannot("bad key name"))?;
        let (_, key) = self
            .keys
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| cannot(&format!("no key named {name}")))?;
        let body = &rest[colon + 1..];
        if body.len() < NONCE_LEN {
            return Err(cannot("truncated"));
        }
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| cannot("bad nonce"))?;
        let mut buffer = sealed.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::empty(), &mut buffer)
            .map_err(|_| cannot("authentication failed"))?;
        Ok((plain.to_vec(), name != self.primary()))
    }
}

/// A configuration with one new random key, `key1`.
fn new_config() -> Result<Value, Error> {
    let mut secret = [0u8; 32];
    SystemRandom::new()
        .fill(&mut secret)
        .map_err(|_| Error::Encryption("no randomness for a key".into()))?;
    Ok(json!({
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [{
            "resources": ["secrets"],
            "providers": [
                {"aesgcm": {"keys": [{"name": "key1",
                    "secret": base64::engine::general_purpose::STANDARD.encode(secret)}]}},
                {"identity": {}},
            ],
        }],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(keys: &[(&str, [u8; 32])]) -> String {
        let keys: Vec<Value> = keys
            .iter()
            .map(|(n, k)| {
                json!({"name": n, "secret": base64::engine::general_purpose::STANDARD.encode(k)})
            })
            .collect();
        serde_yaml::to_string(&json!({
            "apiVersion": "apiserver.config.k8s.io/v1",
            "kind": "EncryptionConfiguration",
            "resources": [{"resources": ["secrets"],
                           "providers": [{"aesgcm": {"keys": keys}}, {"identity": {}}]}],
        }))
        .unwrap()
    }

    #[test]
    fn values_round_trip_under_the_first_key_and_older_keys_still_decrypt() {
        let old = Encryption::parse(&config(&[("old", [1; 32])]), "c".into()).unwrap();
        let sealed = old.encrypt(b"{\"data\":\"s3cret\"}").unwrap();
        assert!(sealed.starts_with(b"k8s:enc:aesgcm:v1:old:"));
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(
            old.decrypt(&sealed, "x").unwrap(),
            (b"{\"data\":\"s3cret\"}".to_vec(), false)
        );
        // Rotation: a new first key; the old one still reads, and says it wants a rewrite.
        let rotated =
            Encryption::parse(&config(&[("new", [2; 32]), ("old", [1; 32])]), "c".into()).unwrap();
        assert_eq!(rotated.primary(), "new");
        let (plain, rewrite) = rotated.decrypt(&sealed, "x").unwrap();
        assert_eq!(
            (plain.as_slice(), rewrite),
            (&b"{\"data\":\"s3cret\"}"[..], true)
        );
        // Plain JSON (written before encryption) reads and wants a rewrite.
        assert_eq!(rotated.decrypt(b"{}", "x").unwrap(), (b"{}".to_vec(), true));
        // Without the key, or with a tampered value: a clear error.
        let other = Encryption::parse(&config(&[("new", [2; 32])]), "c".into()).unwrap();
        let error = other
            .decrypt(&sealed, "secret a/b")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("secret a/b") && error.contains("no key named old"),
            "{error}"
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(old.decrypt(&tampered, "x").is_err());
        // Nonces differ: the same plaintext never encrypts the same way twice.
        assert_ne!(old.encrypt(b"x").unwrap(), old.encrypt(b"x").unwrap());
    }

    #[test]
    fn configurations_are_kube_apiservers_and_bad_ones_are_refused() {
        for (bad, why) in [
            ("kind: Other", "EncryptionConfiguration"),
            ("kind: EncryptionConfiguration\nresources: []", "no entry"),
            (
                "kind: EncryptionConfiguration\nresources: [{resources: [secrets], providers: [{identity: {}}]}]",
                "must be aesgcm",
            ),
            (
                "kind: EncryptionConfiguration\nresources: [{resources: [secrets], providers: [{aesgcm: {keys: [{name: k, secret: c2hvcnQ=}]}}]}]",
                "32 bytes",
            ),
        ] {
            let error = Encryption::parse(bad, "cfg.yaml".into())
                .unwrap_err()
                .to_string();
            assert!(error.contains(why) && error.contains("cfg.yaml"), "{error}");
        }
        assert!(is_encrypted_resource("/secrets/ns/name"));
        assert!(!is_encrypted_resource("/configmaps/ns/name"));
        assert!(!is_encrypted_resource("apps/secrets/ns/name"));
    }

    #[test]
    fn a_data_dir_gets_its_own_private_key_file_once() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = Encryption::load_or_create(dir.path(), None).unwrap();
        let file = dir.path().join(DEFAULT_CONFIG_FILE);
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let b = Encryption::load_or_create(dir.path(), None).unwrap();
        let sealed = a.encrypt(b"v").unwrap();
        assert_eq!(b.decrypt(&sealed, "x").unwrap().0, b"v");
        let config: Value = serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let key = config["resources"][0]["providers"][0]["aesgcm"]["keys"][0]["secret"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(key.len(), 44);
        assert!(!format!("{a:?}").contains(&key), "Debug shows no key");
    }
}
