//! The dashboard's users file (`[http] users`): names and argon2id
//! password hashes (PHC strings), checked by HTTP Basic authentication
//! over HTTPS. `wildnet admin http-user NAME` adds or replaces a user.
//!
//! ```toml
//! [users]
//! alice = "$argon2id$v=19$m=19456,t=2,p=1$…"
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// How long a checked login is remembered (so a page's requests do not
/// each pay for an argon2 hash).
const REMEMBER: Duration = Duration::from_secs(300);

/// The users file as written.
#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    users: BTreeMap<String, String>,
}

/// The users of the dashboard.
#[derive(Debug)]
pub struct Users {
    hashes: BTreeMap<String, String>,
    /// HMAC-SHA256 (under `secret`) of `name:password` of logins checked
    /// lately: nothing in memory is cheaper to guess than the argon2 hash.
    remembered: Mutex<HashMap<Vec<u8>, Instant>>,
    /// A random key made at load.
    secret: ring::hmac::Key,
}

/// A user name is letters, digits, `.`, `_`, `-`, 1–64 of them.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl Users {
    /// Reads and checks the users file: every hash must be an argon2 PHC
    /// string.
    pub fn load(path: &Path) -> Result<Users, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read the [http] users file {}: {e}; add a user with `wildnet admin \
                 http-user NAME`",
                path.display()
            )
        })?;
        let file: UsersFile = toml::from_str(&text)
            .map_err(|e| format!("{} is not a users file: {e}", path.display()))?;
        for (name, hash) in &file.users {
            if !valid_name(name) {
                return Err(format!(
                    "{}: user name {name:?} must be 1-64 letters, digits, '.', '_' or '-'",
                    path.display()
                ));
            }
            let parsed = PasswordHash::new(hash).map_err(|e| {
                format!(
                    "{}: the hash of {name} is not a PHC string ({e})",
                    path.display()
                )
            })?;
            if !parsed.algorithm.as_str().starts_with("argon2") {
                return Err(format!(
                    "{}: the hash of {name} is {}, not argon2",
                    path.display(),
                    parsed.algorithm
                ));
            }
        }
        if file.users.is_empty() {
            return Err(format!(
                "{} lists no users: add one with `wildnet admin http-user NAME`",
                path.display()
            ));
        }
        let rng = ring::rand::SystemRandom::new();
        let secret = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng)
            .map_err(|_| "cannot make a random key for the login cache".to_string())?;
        Ok(Users {
            hashes: file.users,
            remembered: Mutex::new(HashMap::new()),
            secret,
        })
    }

    /// True when `password` is `name`'s (argon2: slow on purpose; run it
    /// off the async runtime).
    pub fn check(&self, name: &str, password: &str) -> bool {
        let key = ring::hmac::sign(&self.secret, format!("{name}:{password}").as_bytes())
            .as_ref()
            .to_vec();
        if let Ok(m) = self.remembered.lock()
            && m.get(&key).is_some_and(|t| t.elapsed() < REMEMBER)
        {
            return true;
        }
        let Some(hash) = self.hashes.get(name) else {
            // The same work as for a known user: the time does not tell
            // which names exist.
            let _ = hash_password(password);
            return false;
        };
        let ok = PasswordHash::new(hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        });
        if ok && let Ok(mut m) = self.remembered.lock() {
            m.retain(|_, t| t.elapsed() < REMEMBER);
            m.insert(key, Instant::now());
        }
        ok
    }
}

/// An argon2id hash (PHC string) of `password` with a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Adds `name` with `password` to the users file at `path` (made, mode
/// 0600, when missing), replacing an earlier password of the same name.
pub fn set_user(path: &Path, name: &str, password: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    if !valid_name(name) {
        return Err(format!(
            "user name {name:?} must be 1-64 letters, digits, '.', '_' or '-'"
        ));
    }
    if password.chars().count() < 12 {
        return Err("the password must be at least 12 characters".into());
    }
    let mut file: UsersFile = match std::fs::read_to_string(path) {
        Ok(t) => toml::from_str(&t).map_err(|e| format!("{}: {e}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => UsersFile::default(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    file.users
        .insert(name.to_string(), hash_password(password)?);
    let text = format!(
        "# wildnet dashboard users: name = argon2id hash ([http] users).\n{}",
        toml::to_string(&file).map_err(|e| e.to_string())?
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp");
    let write = |tmp: &Path| -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(tmp)?;
        // Mode 0600 also when the file was there already.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    };
    write(&tmp).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_set_in_the_file_logs_in_with_that_password_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("http/users.toml");
        set_user(&path, "alice", "correct horse battery").expect("set");
        set_user(&path, "bob", "another long secret").expect("set");
        let users = Users::load(&path).expect("loads");
        assert!(users.check("alice", "correct horse battery"));
        assert!(users.check("alice", "correct horse battery"), "remembered");
        assert!(!users.check("alice", "another long secret"));
        assert!(!users.check("carol", "correct horse battery"));
        set_user(&path, "alice", "a new long password").expect("replace");
        let users = Users::load(&path).expect("loads");
        assert!(!users.check("alice", "correct horse battery"));
        assert!(users.check("alice", "a new long password"));
        let mode = std::fs::metadata(&path).expect("meta").permissions();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.mode() & 0o777, 0o600);
    }

    #[test]
    fn bad_files_and_names_are_refused_with_the_cause() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("users.toml");
        assert!(set_user(&path, "al ice", "correct horse battery").is_err());
        assert!(set_user(&path, "alice", "short").is_err());
        std::fs::write(&path, "[users]\nalice = \"plaintext\"\n").expect("write");
        let e = Users::load(&path).expect_err("refused");
        assert!(e.contains("not a PHC string"), "{e}");
        std::fs::write(&path, "[users]\n").expect("write");
        let e = Users::load(&path).expect_err("refused");
        assert!(e.contains("no users"), "{e}");
        let e = Users::load(&dir.path().join("missing.toml")).expect_err("refused");
        assert!(e.contains("http-user"), "{e}");
    }
}
