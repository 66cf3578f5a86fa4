//! Owner-only files and directories for keys, tokens, kubeconfigs and databases.
//!
//! Everything is created with its final mode (directories 0700, files 0600) in the `open`/`mkdir`
//! call itself, so no other user can ever open it, whatever the process umask; nothing is written
//! first and tightened afterwards. The mode the kernel actually gave is read back and a mismatch
//! (a filesystem that ignores permissions) is an error naming the path.
//!
//! Things that already exist are handled by one rule: a directory or file owned by another user,
//! or writable by group or others (someone else may have planted or swapped content), is refused
//! with an error naming the path; one of ours that is merely readable by group or others (as the
//! project's earlier versions created them under a 022 umask) is tightened to owner-only, with a
//! warning in the log.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Mode of private directories.
pub const DIR_MODE: u32 = 0o700;
/// Mode of private files.
pub const FILE_MODE: u32 = 0o600;

fn err(path: &Path, reason: impl Into<String>) -> Error {
    Error::PrivatePath {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn io_err(path: &Path, action: &str, e: std::io::Error) -> Error {
    err(path, format!("{action}: {e}"))
}

fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Applies the rule on existing things (module documentation) to `meta`; `tighten` sets the
/// owner-only mode when only read/search bits of group or others are set.
fn enforce(
    path: &Path,
    meta: &std::fs::Metadata,
    kind: &str,
    private_mode: u32,
    tighten: impl FnOnce(std::fs::Permissions) -> std::io::Result<()>,
) -> Result<()> {
    let uid = current_uid();
    if meta.uid() != uid {
        return Err(err(
            path,
            format!(
                "the {kind} is owned by uid {}, not by this process's user (uid {uid}); refusing to keep secrets in it",
                meta.uid()
            ),
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(err(
            path,
            format!(
                "the {kind} is writable by group or others (mode {mode:04o}); refusing to keep secrets in it (remove it, or `chmod {private_mode:o}` it after checking its content)"
            ),
        ));
    }
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), mode = format!("{mode:04o}"), "tightening an existing {kind} to owner-only");
        tighten(std::fs::Permissions::from_mode(private_mode))
            .map_err(|e| io_err(path, "setting owner-only permissions", e))?;
    }
    Ok(())
}

fn check_mode(path: &Path, meta: &std::fs::Metadata, kind: &str) -> Result<()> {
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(err(
            path,
            format!(
                "the {kind} has mode {mode:04o} although it was created owner-only: the filesystem does not keep Unix permissions"
            ),
        ));
    }
    Ok(())
}

/// Creates `path` (and missing parents, each 0700) as a directory only its owner can use; an
/// existing directory is checked (module documentation).
pub fn create_private_dir(path: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
        .map_err(|e| io_err(path, "creating the directory", e))?;
    let meta = std::fs::metadata(path).map_err(|e| io_err(path, "reading the directory", e))?;
    if !meta.is_dir() {
        return Err(err(path, "not a directory"));
    }
    enforce(path, &meta, "directory", DIR_MODE, |p| {
        std::fs::set_permissions(path, p)
    })?;
    let meta = std::fs::metadata(path).map_err(|e| io_err(path, "reading the directory", e))?;
    check_mode(path, &meta, "directory")
}

/// Opens `path` with `options`, creating it (when `options` create) with mode 0600; an existing
/// file is checked (module documentation). For files written in place, such as a database or an
/// append-only log.
pub fn open_private(path: &Path, options: &mut OpenOptions) -> Result<File> {
    let file = options
        .mode(FILE_MODE)
        .open(path)
        .map_err(|e| io_err(path, "opening", e))?;
    let meta = file
        .metadata()
        .map_err(|e| io_err(path, "reading the file", e))?;
    // Tightening an existing file goes through its descriptor (fchmod): no path race.
    enforce(path, &meta, "file", FILE_MODE, |p| file.set_permissions(p))?;
    let meta = file
        .metadata()
        .map_err(|e| io_err(path, "reading the file", e))?;
    check_mode(path, &meta, "file")?;
    Ok(file)
}

/// Creates `path` if it does not exist, mode 0600, without touching an existing file's content
/// (checked as [`open_private`] does). For files another library opens later by name (redb).
pub fn ensure_private_file(path: &Path) -> Result<()> {
    open_private(path, OpenOptions::new().read(true).write(true).create(true)).map(drop)
}

fn temp_sibling(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| err(path, "not a file path"))?
        .to_string_lossy();
    let nonce: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    Ok(path.with_file_name(format!(".{name}.{}.{nonce:x}.tmp", std::process::id())))
}

/// Writes `contents` to `path`, mode 0600: a new file is created owner-only, written, flushed and
/// renamed over `path`, so readers see the old or the new content, never a half-written file,
/// and an existing file's looser mode (or a symlink) is replaced rather than reused.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<()> {
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && meta.is_dir()
    {
        return Err(err(path, "a directory is in the way"));
    }
    let temp = temp_sibling(path)?;
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&temp)
            .map_err(|e| io_err(path, "creating", e))?;
        let meta = file
            .metadata()
            .map_err(|e| io_err(path, "reading the file", e))?;
        check_mode(path, &meta, "file")?;
        file.write_all(contents)
            .map_err(|e| io_err(path, "writing", e))?;
        file.sync_all().map_err(|e| io_err(path, "flushing", e))?;
        std::fs::rename(&temp, path).map_err(|e| io_err(path, "replacing", e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Test support: runs test `test` of the current test binary again in a child process whose
/// umask is `umask`, so file modes can be checked under a permissive umask without changing the
/// umask of the test process (shared by parallel tests). Returns `true` in the child, which then
/// does the checks; in the parent it returns `false` once the child passed, and panics with the
/// child's output if it failed.
pub fn rerun_with_umask(test: &str, umask: u32) -> bool {
    const VAR: &str = "ARO_TEST_UMASK_CHILD";
    if std::env::var(VAR).as_deref() == Ok(test) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask:03o} && exec \"$0\" \"$@\""))
        .arg(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(VAR, test)
        .output()
        .expect("running the test binary again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{test} under umask {umask:03o} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    false
}

/// The permission bits of `path` (test support).
pub fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .mode()
        & 0o7777
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_paths_are_owner_only_under_a_permissive_umask() {
        if !rerun_with_umask(
            "fs::tests::private_paths_are_owner_only_under_a_permissive_umask",
            0o000,
        ) {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        // The umask really is permissive: a plain write gives 0666, a plain mkdir 0777.
        std::fs::write(tmp.path().join("plain"), "x").unwrap();
        assert_eq!(mode_of(&tmp.path().join("plain")), 0o666);
        std::fs::create_dir(tmp.path().join("plain-dir")).unwrap();
        assert_eq!(mode_of(&tmp.path().join("plain-dir")), 0o777);

        let dir = tmp.path().join("a/b/data");
        create_private_dir(&dir).unwrap();
        for d in ["a", "a/b", "a/b/data"] {
            assert_eq!(mode_of(&tmp.path().join(d)), 0o700, "{d}");
        }
        let key = dir.join("key.pem");
        write_private_file(&key, b"secret").unwrap();
        assert_eq!(mode_of(&key), 0o600);
        assert_eq!(std::fs::read(&key).unwrap(), b"secret");
        // Rewriting keeps it private and leaves no temporary file behind.
        write_private_file(&key, b"secret 2").unwrap();
        assert_eq!(mode_of(&key), 0o600);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);

        let db = dir.join("store.db");
        ensure_private_file(&db).unwrap();
        assert_eq!(mode_of(&db), 0o600);
        let mut log = open_private(
            &dir.join("install.log"),
            OpenOptions::new().create(true).append(true),
        )
        .unwrap();
        writeln!(log, "line").unwrap();
        assert_eq!(mode_of(&dir.join("install.log")), 0o600);
    }

    #[test]
    fn existing_paths_are_tightened_or_refused() {
        let tmp = tempfile::tempdir().unwrap();
        // Ours and only readable by others: tightened.
        let readable = tmp.path().join("readable");
        std::fs::create_dir(&readable).unwrap();
        std::fs::set_permissions(&readable, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&readable).unwrap();
        assert_eq!(mode_of(&readable), 0o700);
        let file = readable.join("db");
        std::fs::write(&file, "content").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        ensure_private_file(&file).unwrap();
        assert_eq!(mode_of(&file), 0o600);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "content");

        // Writable by others: refused, naming the path.
        let shared = tmp.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = create_private_dir(&shared).unwrap_err().to_string();
        assert!(
            e.contains(&shared.display().to_string()) && e.contains("writable"),
            "{e}"
        );
        assert_eq!(mode_of(&shared), 0o777, "a refused directory is left alone");
        let loose = tmp.path().join("loose");
        std::fs::write(&loose, "x").unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = ensure_private_file(&loose).unwrap_err().to_string();
        assert!(e.contains(&loose.display().to_string()), "{e}");

        // A file where a directory is wanted, and the reverse.
        let e = create_private_dir(&loose).unwrap_err().to_string();
        assert!(e.contains(&loose.display().to_string()), "{e}");
        let e = write_private_file(&readable, b"x").unwrap_err().to_string();
        assert!(e.contains("directory"), "{e}");

        // A whole-file rewrite replaces a loose file instead of reusing it.
        write_private_file(&loose, b"new").unwrap();
        assert_eq!(mode_of(&loose), 0o600);
    }

    #[test]
    fn a_directory_of_another_user_is_refused() {
        // Running as root (CI containers), a directory owned by another uid can be made.
        if current_uid() != 0 {
            println!("skipped: needs root to create a directory owned by another user");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let theirs = tmp.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).unwrap();
        let e = create_private_dir(&theirs).unwrap_err().to_string();
        assert!(e.contains("owned by uid 65534"), "{e}");
    }
}
