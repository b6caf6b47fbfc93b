//! Sessions: which of an account's tokens still work. A token names its session (`jti`) and
//! the account's session epoch at issue time; the profile keeps the current epoch and the
//! tokens revoked one by one. Signing out everywhere (or changing the password) moves the
//! epoch on, which ends every older token at once without listing them.

use std::collections::HashMap;

use super::{Timestamp, TokenId, UserId};

/// The session a valid token speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub token_id: TokenId,
    /// The account's session epoch when the token was issued.
    pub epoch: u32,
    /// Epoch seconds; past it the signature check already refuses the token.
    pub expires_at: i64,
}

/// Who calls: a user, through one session. Every authenticated operation takes this, so the
/// session is checked against the profile the operation reads anyway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub id: UserId,
    pub session: Session,
}

/// What the profile says about the account's tokens.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Tokens of an older epoch are refused.
    pub epoch: u32,
    /// Tokens signed out one by one: `jti` → the token's expiry (epoch seconds), after which
    /// the entry is useless and may be dropped.
    pub revoked: HashMap<String, i64>,
}

impl SessionPolicy {
    pub fn admits(&self, session: &Session) -> bool {
        session.epoch == self.epoch && !self.revoked.contains_key(session.token_id.as_str())
    }

    /// Revoked entries whose token has expired anyway: a sign-out drops them, so the profile
    /// holds at most the tokens of the last token lifetime.
    pub fn expired_revocations(&self, now: Timestamp) -> Vec<&str> {
        let now = now.unix_seconds();
        self.revoked
            .iter()
            .filter(|(_, expires_at)| **expires_at < now)
            .map(|(id, _)| id.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(epoch: u32) -> Session {
        Session {
            token_id: TokenId::generate(),
            epoch,
            expires_at: Timestamp::now().unix_seconds() + 60,
        }
    }

    #[test]
    fn a_token_works_in_its_epoch_until_it_is_revoked() {
        let mut policy = SessionPolicy::default();
        let token = session(0);
        assert!(policy.admits(&token));
        policy
            .revoked
            .insert(token.token_id.to_string(), token.expires_at);
        assert!(!policy.admits(&token));
        assert!(policy.admits(&session(0)), "other tokens still work");
    }

    #[test]
    fn a_new_epoch_ends_every_older_token() {
        let policy = SessionPolicy {
            epoch: 2,
            revoked: HashMap::new(),
        };
        assert!(!policy.admits(&session(0)));
        assert!(!policy.admits(&session(1)));
        assert!(policy.admits(&session(2)));
    }

    #[test]
    fn only_revocations_of_expired_tokens_are_dropped() {
        let now = Timestamp::now();
        let policy = SessionPolicy {
            epoch: 0,
            revoked: HashMap::from([
                ("old".to_string(), now.unix_seconds() - 1),
                ("live".to_string(), now.unix_seconds() + 1),
            ]),
        };
        assert_eq!(policy.expired_revocations(now), ["old"]);
    }
}
