//! The local store of pulled artifacts: every manifest and rule under its digest
//! (`blobs/sha256/<hex>`), and the digest each tag named when it was last resolved
//! (`tags/<sha256 of the reference>`).
//!
//! Nothing enters the store unless it hashes to the digest it is stored under, and nothing is
//! read back without hashing it again: a file damaged on disk is dropped and pulled anew, never
//! served. Files are written beside their place and renamed into it, so a reader (another replica
//! sharing the folder) sees a whole file or none.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut digest = String::with_capacity(7 + 64);
    digest.push_str("sha256:");
    for byte in hash {
        digest.push_str(&format!("{byte:02x}"));
    }
    digest
}

/// Refuses any digest but `sha256:` and 64 lowercase hex digits (the only form the store keeps,
/// and one that cannot walk out of its folder).
pub fn check_digest(digest: &str) -> Result<&str, String> {
    match digest.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            Ok(hex)
        }
        _ => Err(format!(
            "`{}` is not a sha256 digest (sha256: and 64 lowercase hex digits)",
            crate::untrusted::GuestText::new(digest, 100).as_str()
        )),
    }
}

impl Store {
    pub fn new(dir: PathBuf) -> Store {
        Store { dir }
    }

    fn blob(&self, digest: &str) -> Option<PathBuf> {
        let hex = check_digest(digest).ok()?;
        Some(self.dir.join("blobs/sha256").join(hex))
    }

    /// The stored content of `digest`, if it is there and still matches.
    pub fn read(&self, digest: &str) -> Option<Vec<u8>> {
        let path = self.blob(digest)?;
        let bytes = std::fs::read(&path).ok()?;
        if digest_of(&bytes) == digest {
            return Some(bytes);
        }
        tracing::warn!(file = %path.display(), "a stored OCI blob no longer matches its digest; pulling it again");
        let _ = std::fs::remove_file(&path);
        None
    }

    /// The stored file of `digest`, if it is there and still matches.
    pub fn path_if_verified(&self, digest: &str) -> Option<PathBuf> {
        self.read(digest)?;
        self.blob(digest)
    }

    /// Stores `bytes` as `digest`, refusing them unless they hash to it. Returns the file.
    pub fn write(&self, digest: &str, bytes: &[u8]) -> Result<PathBuf, String> {
        let path = self
            .blob(digest)
            .ok_or_else(|| check_digest(digest).unwrap_err())?;
        let actual = digest_of(bytes);
        if actual != digest {
            return Err(format!(
                "the registry's content does not match its digest (got {actual}); refused"
            ));
        }
        write_atomically(&path, bytes)
            .map_err(|e| format!("cannot store {}: {e}", path.display()))?;
        Ok(path)
    }

    fn tag(&self, reference: &str) -> PathBuf {
        let name = digest_of(reference.as_bytes());
        self.dir.join("tags").join(&name["sha256:".len()..])
    }

    /// Records that `reference` (a tag) named `digest`, for a restart without the registry.
    pub fn remember_tag(&self, reference: &str, digest: &str) {
        let path = self.tag(reference);
        if let Err(error) = write_atomically(&path, format!("{digest}\n{reference}\n").as_bytes()) {
            tracing::warn!(file = %path.display(), %error, "cannot record the tag's digest");
        }
    }

    /// The digest `reference` named when it was last resolved.
    pub fn last_digest(&self, reference: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.tag(reference)).ok()?;
        let mut lines = text.lines();
        let digest = lines.next()?;
        (lines.next() == Some(reference) && check_digest(digest).is_ok()).then(|| digest.to_owned())
    }
}

/// Writes `bytes` to a file beside `path`, then renames it into place.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let folder = path.parent().expect("store paths have a folder");
    std::fs::create_dir_all(folder)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let partial = folder.join(format!(".{name}.{}.{n}.partial", std::process::id()));
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("wasmhook-store-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Store::new(dir)
    }

    #[test]
    fn keeps_only_what_matches_its_digest() {
        let store = store();
        let digest = digest_of(b"rule");
        assert_eq!(
            digest,
            "sha256:7369949b47ef2c6ba26fbbee659cedc76123a75c17d321a52d8d1ef35e948042"
        );
        assert!(
            store
                .write(&digest, b"other")
                .unwrap_err()
                .contains("does not match")
        );
        assert_eq!(store.read(&digest), None);
        let file = store.write(&digest, b"rule").unwrap();
        assert_eq!(store.read(&digest).as_deref(), Some(&b"rule"[..]));
        // Damaged on disk: dropped, never served.
        std::fs::write(&file, b"rulf").unwrap();
        assert_eq!(store.path_if_verified(&digest), None);
        assert!(!file.exists());
    }

    #[test]
    fn refuses_digests_that_are_not_sha256_hex() {
        for bad in ["sha256:../../etc/passwd", "sha512:00", "sha256:ABC", ""] {
            assert!(check_digest(bad).is_err(), "{bad}");
        }
        assert!(store().write("sha256:../x", b"x").is_err());
    }

    #[test]
    fn remembers_the_digest_of_each_tag() {
        let store = store();
        let digest = digest_of(b"manifest");
        assert_eq!(store.last_digest("oci://r.example/a:v1"), None);
        store.remember_tag("oci://r.example/a:v1", &digest);
        assert_eq!(store.last_digest("oci://r.example/a:v1"), Some(digest));
        assert_eq!(store.last_digest("oci://r.example/a:v2"), None);
    }
}
