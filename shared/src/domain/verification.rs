//! Email verification: a 6-digit code emailed at registration (and again on request), valid
//! for 24 hours and good for five tries; a new code replaces the old one.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Tries per code: after this many wrong ones only a new code works.
pub const CODE_TRIES: u32 = 5;

/// How long a code works, and how often a new one may be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodePolicy {
    pub valid_seconds: u32,
    pub resend_seconds: u32,
}

impl Default for CodePolicy {
    fn default() -> Self {
        Self {
            valid_seconds: 24 * 60 * 60,
            resend_seconds: 60,
        }
    }
}

impl CodePolicy {
    /// When a code issued at `issued_at` (epoch seconds) stops working.
    pub fn expires_at(&self, issued_at: i64) -> i64 {
        issued_at + i64::from(self.valid_seconds)
    }

    /// Seconds until a new code may be sent after one issued at `issued_at`, if it is too
    /// soon at `now`.
    pub fn resend_wait(&self, issued_at: i64, now: i64) -> Option<u64> {
        let at = issued_at + i64::from(self.resend_seconds);
        (at > now).then(|| u64::try_from(at - now).unwrap_or(1))
    }
}

/// A code as emailed: six decimal digits, uniformly random. Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VerificationCode(String);

impl VerificationCode {
    const DIGITS: usize = 6;

    pub fn generate() -> Self {
        use rand::Rng;
        Self(format!("{:06}", rand::rng().random_range(0..1_000_000u32)))
    }

    /// A code as typed: surrounding spaces are forgiven, anything but six digits is not.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let code = raw.trim();
        if code.len() == Self::DIGITS && code.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(code.to_string()))
        } else {
            Err("must be the 6-digit code from the email")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares without stopping at the first different digit.
    fn matches(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .bytes()
                .zip(other.0.bytes())
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}

impl fmt::Debug for VerificationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerificationCode(******)")
    }
}

/// The code an account was last sent, with the tries it has had (this one counted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedCode {
    pub code: VerificationCode,
    /// Epoch seconds.
    pub issued_at: i64,
    pub tries: u32,
}

/// Why a code did not verify (each a 400 on the `code` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeRefused {
    Wrong,
    /// Past its validity, or none was issued (or it was used).
    Expired,
    /// `CODE_TRIES` wrong tries already.
    UsedUp,
}

impl CodeRefused {
    pub fn reason(self) -> &'static str {
        match self {
            Self::Wrong => "is wrong",
            Self::Expired => "has expired; ask for a new one",
            Self::UsedUp => "was tried too many times; ask for a new one",
        }
    }
}

impl IssuedCode {
    /// Whether `guess`, tried at `now` (its try already counted in `tries`), verifies.
    pub fn check(
        &self,
        guess: &VerificationCode,
        now: i64,
        policy: CodePolicy,
    ) -> Result<(), CodeRefused> {
        if now >= policy.expires_at(self.issued_at) {
            return Err(CodeRefused::Expired);
        }
        if self.tries > CODE_TRIES {
            return Err(CodeRefused::UsedUp);
        }
        if self.code.matches(guess) {
            Ok(())
        } else {
            Err(CodeRefused::Wrong)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issued(code: &str, tries: u32) -> IssuedCode {
        IssuedCode {
            code: VerificationCode::parse(code).unwrap(),
            issued_at: 1_000,
            tries,
        }
    }

    #[test]
    fn codes_are_six_digits_and_never_printed() {
        for _ in 0..200 {
            let code = VerificationCode::generate();
            assert!(VerificationCode::parse(code.as_str()).is_ok(), "{code:?}");
        }
        assert_eq!(
            format!("{:?}", VerificationCode::generate()),
            "VerificationCode(******)"
        );
        assert_eq!(
            VerificationCode::parse(" 012345 ").unwrap().as_str(),
            "012345"
        );
        for bad in ["", "12345", "1234567", "12a456", "١٢٣٤٥٦", "12 456"] {
            assert!(VerificationCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_code_verifies_within_a_day_and_five_tries() {
        let policy = CodePolicy::default();
        let guess = VerificationCode::parse("123456").unwrap();
        let check = |code: &IssuedCode, now| code.check(&guess, now, policy);
        assert_eq!(check(&issued("123456", 1), 1_001), Ok(()));
        assert_eq!(check(&issued("123456", CODE_TRIES), 1_001), Ok(()));
        assert_eq!(
            check(&issued("123456", CODE_TRIES + 1), 1_001),
            Err(CodeRefused::UsedUp)
        );
        assert_eq!(
            check(&issued("123456", 1), 1_000 + 24 * 60 * 60),
            Err(CodeRefused::Expired)
        );
        assert_eq!(check(&issued("654321", 1), 1_001), Err(CodeRefused::Wrong));
    }

    #[test]
    fn a_new_code_waits_a_minute_after_the_last() {
        let policy = CodePolicy::default();
        assert_eq!(policy.resend_wait(1_000, 1_000), Some(60));
        assert_eq!(policy.resend_wait(1_000, 1_059), Some(1));
        assert_eq!(policy.resend_wait(1_000, 1_060), None);
    }
}
