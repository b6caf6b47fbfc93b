use std::fmt;

use serde::{Deserialize, Serialize};

use super::{FieldErrors, Invalid};
use super::{SessionPolicy, Timestamp, UserId};

/// An email address, trimmed and checked for a plausible shape. Uniqueness is
/// case-insensitive: [`Email::normalized`] is the form used as the uniqueness key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim();
        if email.is_empty() {
            return Err("is required");
        }
        if email.len() > Self::MAX_LEN {
            return Err("must be at most 254 characters");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err("must be an email address such as ada@example.com");
        };
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && local.chars().all(|c| !c.is_whitespace() && !c.is_control());
        if !(local_ok && domain_ok) {
            return Err("must be an email address such as ada@example.com");
        }
        Ok(Self(email.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive identity of the address.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A display name: trimmed, 1 to 50 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserName(String);

impl UserName {
    pub const MAX_CHARS: usize = 50;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let name = raw.trim();
        let chars = name.chars().count();
        if chars == 0 {
            return Err("must not be empty");
        }
        if chars > Self::MAX_CHARS {
            return Err("must be at most 50 characters");
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password as typed. It is never printed, stored or serialized: only its hash is.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    /// Bounds the work one request can ask the hasher to do.
    pub const MAX_CHARS: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err("must be at least 8 characters");
        }
        if chars > Self::MAX_CHARS {
            return Err("must be at most 256 characters");
        }
        Ok(Self(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A registration after parsing: every field error is reported at once.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: Email,
    pub name: UserName,
    pub password: Password,
}

impl NewUser {
    pub fn parse(email: &str, name: &str, password: &str) -> Result<Self, Invalid> {
        let mut errors = FieldErrors::new();
        let email = Email::parse(email).map_err(|e| errors.insert("email".into(), e.into()));
        let name = UserName::parse(name).map_err(|e| errors.insert("name".into(), e.into()));
        let password =
            Password::parse(password).map_err(|e| errors.insert("password".into(), e.into()));
        match (email, name, password) {
            (Ok(email), Ok(name), Ok(password)) => Ok(Self {
                email,
                name,
                password,
            }),
            _ => Err(Invalid::Fields(errors)),
        }
    }
}

/// A user as its owner sees it (`GET /me`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub name: UserName,
    pub created_at: Timestamp,
    /// The address was confirmed with the emailed code (accounts older than verification
    /// count as verified). Notification emails go only to verified addresses.
    pub email_verified: bool,
    /// Partner request and digest emails wanted (default true).
    pub email_notifications: bool,
    #[serde(skip)]
    pub last_seen: Option<Timestamp>,
    /// At least one live WebSocket connection.
    #[serde(skip)]
    pub online: bool,
    /// Which of the account's tokens still work.
    #[serde(skip)]
    pub sessions: SessionPolicy,
    /// The users this one blocked: their messages leave its history, their pushes its devices.
    #[serde(skip)]
    pub blocked: std::collections::BTreeSet<UserId>,
    /// Partner requests sent in the current window.
    #[serde(skip)]
    pub request_window: super::RateWindow,
}

impl User {
    /// A new account: a fresh id, an unverified address, notification emails on.
    pub fn new_account(email: Email, name: UserName, created_at: Timestamp) -> Self {
        Self {
            id: UserId::generate(),
            email,
            name,
            created_at,
            email_verified: false,
            email_notifications: true,
            last_seen: None,
            online: false,
            sessions: Default::default(),
            blocked: Default::default(),
            request_window: Default::default(),
        }
    }

    /// Whether notification emails (partner requests, digests) may be sent to this user.
    pub fn takes_notification_emails(&self) -> bool {
        self.email_verified && self.email_notifications
    }
}

/// `PATCH /me`: what to change (nothing at all is a valid, empty change).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileChanges {
    pub name: Option<UserName>,
    pub email_notifications: Option<bool>,
}

impl ProfileChanges {
    pub fn parse(name: Option<&str>, email_notifications: Option<bool>) -> Result<Self, Invalid> {
        let name = name
            .map(UserName::parse)
            .transpose()
            .map_err(|reason| Invalid::field("name", reason))?;
        Ok(Self {
            name,
            email_notifications,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.email_notifications.is_none()
    }
}

/// A user as everyone else sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PublicUser {
    pub id: UserId,
    pub name: UserName,
    pub created_at: Timestamp,
}

impl From<User> for PublicUser {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            name: user.name,
            created_at: user.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_compared_case_insensitively() {
        let email = Email::parse("  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace@Example.COM");
        assert_eq!(email.normalized(), "ada.lovelace@example.com");
    }

    #[test]
    fn rejects_malformed_emails() {
        for bad in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "a da@example.com",
            "ada@exa mple.com",
            "ada@-example.com",
            "ada@example..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded_in_characters() {
        assert_eq!(UserName::parse("  Ada  ").unwrap().as_str(), "Ada");
        assert!(UserName::parse("   ").is_err());
        assert!(UserName::parse(&"é".repeat(50)).is_ok());
        assert!(UserName::parse(&"é".repeat(51)).is_err());
        assert!(UserName::parse("Ada\u{0}").is_err());
    }

    #[test]
    fn passwords_need_eight_characters_and_never_print() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"x".repeat(257)).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("hunter2hunter2").unwrap()),
            "Password(***)"
        );
    }

    #[test]
    fn registration_reports_every_bad_field() {
        let Err(Invalid::Fields(fields)) = NewUser::parse("nope", " ", "short") else {
            panic!("expected a validation error");
        };
        assert_eq!(
            fields.keys().collect::<Vec<_>>(),
            ["email", "name", "password"]
        );
    }
}
