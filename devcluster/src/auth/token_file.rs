//! Static bearer tokens from `--token-auth-file`, as kube-apiserver's tokenfile authenticator
//! reads it: CSV lines `token,user,uid,"group1,group2"` (columns past the fourth are ignored).
//! A presented token is compared with every entry in constant time.

use std::path::Path;

use super::{UserInfo, token_matches};
use crate::error::Error;

/// The tokens of a token file.
#[derive(Default)]
pub struct StaticTokens {
    entries: Vec<(aro_common::Secret, UserInfo)>,
}

impl std::fmt::Debug for StaticTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StaticTokens({} tokens)", self.entries.len())
    }
}

impl StaticTokens {
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Authentication(format!("reading token file {}: {e}", path.display()))
        })?;
        Self::parse(&text)
            .map_err(|e| Error::Authentication(format!("token file {}: {e}", path.display())))
    }

    /// Parse the file's text (kube's rules: at least 3 columns; lines with an empty token are
    /// skipped; for a token listed twice the last line wins).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::Fields)
            .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let mut entries: Vec<(aro_common::Secret, UserInfo)> = Vec::new();
        for (line, record) in reader.records().enumerate() {
            // The error names the line only: a record holds a token.
            let record = record.map_err(|_| format!("line {} is not valid CSV", line + 1))?;
            if record.len() < 3 {
                return Err(format!(
                    "token file must have at least 3 columns (token, user name, user uid), found {} on line {}",
                    record.len(),
                    line + 1
                ));
            }
            let token = &record[0];
            if token.is_empty() {
                tracing::warn!(
                    line = line + 1,
                    "skipping a token file line with an empty token"
                );
                continue;
            }
            let groups = record
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let user = UserInfo {
                name: record[1].to_string(),
                uid: record[2].to_string(),
                groups,
                ..Default::default()
            };
            if let Some(existing) = entries
                .iter_mut()
                .find(|(t, _)| token_matches(token, t.expose()))
            {
                tracing::warn!(line = line + 1, "duplicate token in the token file");
                existing.1 = user;
            } else {
                entries.push((token.into(), user));
            }
        }
        Ok(StaticTokens { entries })
    }

    /// The user of `token`. Every entry is compared (no early exit), so the time taken does not
    /// tell which entry, or how much of it, matched.
    pub fn authenticate(&self, token: &str) -> Option<UserInfo> {
        let mut found = None;
        for (expected, user) in &self.entries {
            if token_matches(token, expected.expose()) && found.is_none() {
                found = Some(user.clone());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubes_csv_format() {
        let tokens = StaticTokens::parse(
            "\u{feff}tok-a,alice,uid-a,\"dev,ops\"\ntok-b, bob ,uid-b\n,nobody,uid-n\ntok-c,carol,uid-c,single,ignored\n",
        )
        .unwrap();
        let alice = tokens.authenticate("tok-a").unwrap();
        assert_eq!(
            (alice.name.as_str(), alice.uid.as_str()),
            ("alice", "uid-a")
        );
        assert_eq!(alice.groups, vec!["dev", "ops"]);
        let bob = tokens.authenticate("tok-b").unwrap();
        assert_eq!((bob.name.as_str(), bob.groups.len()), ("bob", 0));
        assert_eq!(tokens.authenticate("tok-c").unwrap().groups, vec!["single"]);
        for wrong in ["", "tok", "tok-a ", "TOK-A", "tok-d"] {
            assert!(tokens.authenticate(wrong).is_none(), "{wrong:?}");
        }
    }

    #[test]
    fn a_line_needs_three_columns_and_the_last_duplicate_wins() {
        let error = StaticTokens::parse("tok,alice\n").unwrap_err();
        assert!(error.contains("at least 3 columns"), "{error}");
        assert!(!error.contains("tok,"), "the error shows no token: {error}");
        let tokens = StaticTokens::parse("t,first,1\nt,second,2\n").unwrap();
        assert_eq!(tokens.authenticate("t").unwrap().name, "second");
    }
}
