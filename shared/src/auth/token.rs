use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::{Caller, Session, Timestamp, TokenId, UserId};
use crate::error::AppError;

const ISSUER: &str = "chat-backend";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    /// The token's own id, so it can be revoked alone.
    pub jti: String,
    /// The account's session epoch at issue time (see `domain::SessionPolicy`).
    pub sep: u32,
}

/// A token and the session it opens.
#[derive(Debug)]
pub struct Issued {
    pub token: String,
    pub session: Session,
}

/// Issues and checks access tokens. A valid signature is not enough to be let in: the
/// account must still exist and the session must not be revoked, which the service layer
/// checks against the caller's profile with its first read.
#[derive(Clone)]
pub struct TokenService {
    /// `None` in a function that is not given `JWT_SECRET` (the workers): it can neither
    /// sign nor verify, and says so if asked.
    keys: Option<(EncodingKey, DecodingKey)>,
    validation: Validation,
    ttl: Duration,
}

impl TokenService {
    pub fn new(secret: Option<&str>, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "jti"]);
        validation.leeway = 5;
        Self {
            keys: secret.map(|secret| {
                (
                    EncodingKey::from_secret(secret.as_bytes()),
                    DecodingKey::from_secret(secret.as_bytes()),
                )
            }),
            validation,
            ttl,
        }
    }

    fn keys(&self) -> Result<&(EncodingKey, DecodingKey), AppError> {
        self.keys
            .as_ref()
            .ok_or_else(|| AppError::internal("JWT_SECRET is not configured for this function"))
    }

    /// A new token of `user` in the account's session `epoch`.
    pub fn issue(&self, user: &UserId, epoch: u32) -> Result<Issued, AppError> {
        self.issue_at(user, epoch, Timestamp::now())
    }

    /// Issues a token as if at `now` (tests mint expired tokens with it).
    pub fn issue_at(&self, user: &UserId, epoch: u32, now: Timestamp) -> Result<Issued, AppError> {
        let iat = now.unix_seconds();
        let session = Session {
            token_id: TokenId::generate(),
            epoch,
            expires_at: iat + self.ttl.as_secs() as i64,
        };
        let claims = Claims {
            sub: user.to_string(),
            iss: ISSUER.to_string(),
            iat,
            exp: session.expires_at,
            jti: session.token_id.to_string(),
            sep: epoch,
        };
        let (encoding, _) = self.keys()?;
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, encoding)
            .map_err(AppError::internal)?;
        Ok(Issued { token, session })
    }

    /// Who a token speaks for; any defect (format, signature, expiry, algorithm, claims) is 401.
    pub fn verify(&self, token: &str) -> Result<Caller, AppError> {
        const INVALID: AppError = AppError::Unauthorized("the token is invalid");
        let (_, decoding) = self.keys()?;
        let data =
            jsonwebtoken::decode::<Claims>(token, decoding, &self.validation).map_err(|err| {
                match err.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                        AppError::Unauthorized("the token has expired")
                    }
                    _ => INVALID,
                }
            })?;
        let claims = data.claims;
        Ok(Caller {
            id: UserId::parse(&claims.sub).ok_or(INVALID)?,
            session: Session {
                token_id: TokenId::parse(&claims.jti).ok_or(INVALID)?,
                epoch: claims.sep,
                expires_at: claims.exp,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trips_the_user() {
        let tokens = TokenService::new(Some(SECRET), Duration::from_secs(60));
        let user = UserId::generate();
        let issued = tokens.issue(&user, 3).unwrap();
        let caller = tokens.verify(&issued.token).unwrap();
        assert_eq!(caller.id, user);
        assert_eq!(caller.session, issued.session);
        assert_eq!(caller.session.epoch, 3);
        assert_ne!(
            tokens.issue(&user, 3).unwrap().session.token_id,
            caller.session.token_id,
            "every token has its own id"
        );
    }

    #[test]
    fn rejects_expired_tampered_and_foreign_tokens() {
        let tokens = TokenService::new(Some(SECRET), Duration::from_secs(60));
        let user = UserId::generate();
        let hour_ago =
            Timestamp::from_unix_millis(Timestamp::now().unix_millis() - 3_600_000).unwrap();
        let expired = tokens.issue_at(&user, 0, hour_ago).unwrap().token;
        assert_eq!(
            tokens.verify(&expired).unwrap_err().to_string(),
            "the token has expired"
        );

        let token = tokens.issue(&user, 0).unwrap().token;
        let mut tampered = token.clone().into_bytes();
        let i = token.find('.').unwrap() + 3;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        assert!(tokens
            .verify(std::str::from_utf8(&tampered).unwrap())
            .is_err());

        let other = TokenService::new(
            Some("another-secret-another-secret-xx"),
            Duration::from_secs(60),
        );
        assert!(tokens
            .verify(&other.issue(&user, 0).unwrap().token)
            .is_err());
        assert!(tokens.verify("not-a-jwt").is_err());
        assert!(tokens.verify("").is_err());
    }
}
