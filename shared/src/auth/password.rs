use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};

use crate::domain::Password;
use crate::error::AppError;

/// Argon2id with OWASP's first recommended setting: 19 MiB of memory, 2 passes, 1 lane.
/// 19 MiB fits a 128 MB Lambda beside the runtime (about 20 MB RSS); see the README for the
/// measured hash time.
pub const ARGON2_PARAMS: (u32, u32, u32) = (19 * 1024, 2, 1);

/// Hashes and verifies passwords on the blocking pool, so a slow hash never stalls the
/// async runtime that serves other requests.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Arc<Argon2<'static>>,
    /// A hash of a random password, verified against when the email is unknown so a failed
    /// login takes the same time whether or not the account exists.
    decoy: Arc<OnceLock<String>>,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordHasher {
    pub fn new() -> Self {
        let (memory_kib, passes, lanes) = ARGON2_PARAMS;
        let params =
            Params::new(memory_kib, passes, lanes, None).unwrap_or_else(|_| Params::default());
        Self {
            argon2: Arc::new(Argon2::new(Algorithm::Argon2id, Version::V0x13, params)),
            decoy: Arc::new(OnceLock::new()),
        }
    }

    /// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) to store.
    pub async fn hash(&self, password: &Password) -> Result<String, AppError> {
        let argon2 = self.argon2.clone();
        let password = password.clone();
        tokio::task::spawn_blocking(move || {
            argon2
                .hash_password(password.expose().as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|err| AppError::internal(err.to_string()))
        })
        .await
        .map_err(AppError::internal)?
    }

    /// Whether `password` matches `stored`. A stored value that is not a valid hash never matches.
    pub async fn verify(&self, password: &Password, stored: &str) -> Result<bool, AppError> {
        let argon2 = self.argon2.clone();
        let password = password.clone();
        let stored = stored.to_string();
        tokio::task::spawn_blocking(move || {
            let Ok(hash) = PasswordHash::new(&stored) else {
                return false;
            };
            argon2
                .verify_password(password.expose().as_bytes(), &hash)
                .is_ok()
        })
        .await
        .map_err(AppError::internal)
    }

    /// Spends the time of one verification without an account to check against.
    pub async fn verify_decoy(&self, password: &Password) -> Result<(), AppError> {
        let decoy = match self.decoy.get() {
            Some(decoy) => decoy.clone(),
            None => {
                let random = Password::parse(&uuid::Uuid::new_v4().to_string())
                    .map_err(AppError::internal)?;
                let hash = self.hash(&random).await?;
                self.decoy.get_or_init(|| hash).clone()
            }
        };
        self.verify(password, &decoy).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_argon2id_and_verifies() {
        let hasher = PasswordHasher::new();
        let password = Password::parse("correct horse battery").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(hasher.verify(&password, &hash).await.unwrap());
        let wrong = Password::parse("wrong horse battery").unwrap();
        assert!(!hasher.verify(&wrong, &hash).await.unwrap());
        assert!(!hasher.verify(&password, "not a hash").await.unwrap());
        hasher.verify_decoy(&password).await.unwrap();
    }
}
