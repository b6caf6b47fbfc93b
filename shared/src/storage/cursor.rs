//! Page cursors: the last key of a page, signed and bound to the query that produced it, so
//! a client can neither forge a key nor replay a cursor against another query or user.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::error::{CursorRejected, StoreError};
use super::Item;

#[derive(Clone)]
pub struct CursorCodec {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

#[derive(Serialize, Deserialize)]
struct CursorClaims {
    /// The query this cursor continues (`users`, `requests:in:<user>:pending`, ...).
    q: String,
    /// The exclusive start key; every key attribute of the table is a string.
    k: BTreeMap<String, String>,
}

impl CursorCodec {
    /// `secret` is the service secret; a separate derived key keeps cursors and access tokens
    /// from ever being accepted as each other. A function without the secret (a worker, which
    /// only pages for itself within one invocation) signs with a key of its own instance.
    pub fn new(secret: Option<&str>) -> Self {
        let key = match secret {
            Some(secret) => format!("{secret}/page-cursor"),
            None => format!("{}{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4()),
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        Self {
            encoding: EncodingKey::from_secret(key.as_bytes()),
            decoding: DecodingKey::from_secret(key.as_bytes()),
            validation,
        }
    }

    pub fn encode(&self, query: &str, key: &Item) -> Result<String, StoreError> {
        let k = key
            .iter()
            .map(|(name, value)| match value {
                AttributeValue::S(text) => Ok((name.clone(), text.clone())),
                _ => Err(StoreError::fault(format!(
                    "non-string key attribute {name}"
                ))),
            })
            .collect::<Result<_, _>>()?;
        let claims = CursorClaims {
            q: query.to_string(),
            k,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(StoreError::fault)
    }

    pub fn decode(&self, query: &str, cursor: &str) -> Result<Item, StoreError> {
        let claims = jsonwebtoken::decode::<CursorClaims>(cursor, &self.decoding, &self.validation)
            .map_err(|_| StoreError::Cursor(CursorRejected::Invalid))?
            .claims;
        if claims.q != query {
            return Err(StoreError::Cursor(CursorRejected::OtherQuery));
        }
        Ok(claims
            .k
            .into_iter()
            .map(|(name, value)| (name, AttributeValue::S(value)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_tampering_and_reuse() {
        let codec = CursorCodec::new(Some("0123456789abcdef0123456789abcdef"));
        let key = Item::from([
            ("pk".to_string(), AttributeValue::S("USER#1".into())),
            ("sk".to_string(), AttributeValue::S("PROFILE".into())),
        ]);
        let cursor = codec.encode("users", &key).unwrap();
        assert_eq!(codec.decode("users", &cursor).unwrap(), key);
        let rejection = |query: &str, cursor: &str| match codec.decode(query, cursor) {
            Err(StoreError::Cursor(why)) => Some(why),
            _ => None,
        };
        assert_eq!(
            rejection("partners:x", &cursor),
            Some(CursorRejected::OtherQuery)
        );
        let mut tampered = cursor.clone();
        tampered.insert(cursor.len() / 2, 'x');
        assert_eq!(rejection("users", &tampered), Some(CursorRejected::Invalid));
        assert_eq!(rejection("users", "garbage"), Some(CursorRejected::Invalid));
    }
}
