use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::{Timestamp, UserId};
use crate::error::AppError;

const ISSUER: &str = "chat-backend";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

/// Issues and checks access tokens. A valid signature is not enough to be let in: the
/// account must still exist, which the service layer checks with the caller's first read.
#[derive(Clone)]
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl TokenService {
    pub fn new(secret: &str, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            ttl,
        }
    }

    pub fn issue(&self, user: &UserId) -> Result<String, AppError> {
        self.issue_at(user, Timestamp::now())
    }

    /// Issues a token as if at `now` (tests mint expired tokens with it).
    pub fn issue_at(&self, user: &UserId, now: Timestamp) -> Result<String, AppError> {
        let iat = now.unix_seconds();
        let claims = Claims {
            sub: user.to_string(),
            iss: ISSUER.to_string(),
            iat,
            exp: iat + self.ttl.as_secs() as i64,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)
    }

    /// The user a token speaks for; any defect (format, signature, expiry, algorithm) is 401.
    pub fn verify(&self, token: &str) -> Result<UserId, AppError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|err| match err.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    AppError::Unauthorized("the token has expired")
                }
                _ => AppError::Unauthorized("the token is invalid"),
            })?;
        UserId::parse(&data.claims.sub).ok_or(AppError::Unauthorized("the token is invalid"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trips_the_user() {
        let tokens = TokenService::new(SECRET, Duration::from_secs(60));
        let user = UserId::generate();
        assert_eq!(tokens.verify(&tokens.issue(&user).unwrap()).unwrap(), user);
    }

    #[test]
    fn rejects_expired_tampered_and_foreign_tokens() {
        let tokens = TokenService::new(SECRET, Duration::from_secs(60));
        let user = UserId::generate();
        let hour_ago =
            Timestamp::from_unix_millis(Timestamp::now().unix_millis() - 3_600_000).unwrap();
        let expired = tokens.issue_at(&user, hour_ago).unwrap();
        assert_eq!(
            tokens.verify(&expired).unwrap_err().to_string(),
            "the token has expired"
        );

        let token = tokens.issue(&user).unwrap();
        let mut tampered = token.clone().into_bytes();
        let i = token.find('.').unwrap() + 3;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        assert!(tokens
            .verify(std::str::from_utf8(&tampered).unwrap())
            .is_err());

        let other = TokenService::new("another-secret-another-secret-xx", Duration::from_secs(60));
        assert!(tokens.verify(&other.issue(&user).unwrap()).is_err());
        assert!(tokens.verify("not-a-jwt").is_err());
        assert!(tokens.verify("").is_err());
    }
}
