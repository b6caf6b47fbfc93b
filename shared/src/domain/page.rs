use super::Invalid;

/// A page size: 1..=100, default 50.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit(u8);

impl Limit {
    pub const DEFAULT: Limit = Limit(50);
    pub const MAX: u8 = 100;
    pub const MAX_PAGE: Limit = Limit(Self::MAX);

    /// A limit the code chooses (1 to `MAX`; outside values are brought in).
    pub const fn new(n: u8) -> Self {
        Limit(if n == 0 {
            1
        } else if n > Self::MAX {
            Self::MAX
        } else {
            n
        })
    }

    pub fn parse(raw: Option<&str>) -> Result<Self, Invalid> {
        let Some(raw) = raw else {
            return Ok(Self::DEFAULT);
        };
        match raw.parse::<u8>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(Invalid::parameter(
                "limit",
                format!("an integer from 1 to {}", Self::MAX),
            )),
        }
    }

    pub fn get(self) -> i32 {
        i32::from(self.0)
    }
}

/// `?limit=&cursor=` of a list route. The cursor stays opaque here: the storage layer signs
/// and checks it, binding it to the query it came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: Option<Limit>,
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> Result<Self, Invalid> {
        Ok(Self {
            limit: Some(Limit::parse(limit)?),
            // `?cursor=` (empty) is the first page, as if absent.
            cursor: cursor.filter(|c| !c.is_empty()).map(str::to_string),
        })
    }

    pub fn limit(&self) -> Limit {
        self.limit.unwrap_or(Limit::DEFAULT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_cursor_is_the_first_page() {
        assert_eq!(PageRequest::parse(None, Some("")).unwrap().cursor, None);
        assert_eq!(
            PageRequest::parse(None, Some("abc"))
                .unwrap()
                .cursor
                .as_deref(),
            Some("abc")
        );
    }

    #[test]
    fn limit_defaults_and_bounds() {
        assert_eq!(Limit::parse(None).unwrap().get(), 50);
        assert_eq!(Limit::parse(Some("1")).unwrap().get(), 1);
        assert_eq!(Limit::parse(Some("100")).unwrap().get(), 100);
        for bad in ["0", "101", "-1", "ten", "", "1.5"] {
            assert!(Limit::parse(Some(bad)).is_err(), "{bad}");
        }
    }
}

/// One page of a list: `{"items": [...], "next_cursor": "..." | null}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}
