//! Access tokens (JWT, HS256) and password hashing (Argon2id).

mod password;
mod token;

pub use password::{PasswordHasher, ARGON2_PARAMS};
pub use token::{Claims, Issued, TokenService};
