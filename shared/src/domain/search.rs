//! Message search, as rules: how text becomes words (folded the same way for the index and
//! for a query), which words of a message are indexed, and what a query asks for.
//!
//! A word is a run of letters and digits, lower-cased with accents folded (`Café` → `cafe`).
//! Scripts written without spaces make one long word of a sentence: it is found by its
//! beginning only (the last word of a query is a prefix).

use std::collections::BTreeSet;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use super::refusal::Invalid;
use super::{Channel, ChannelId, ChannelKind, ChannelName, Message};

/// Characters of a word kept in the index and compared; longer words are cut (a query word
/// is cut the same way, so it still finds them).
pub const MAX_WORD_CHARS: usize = 24;
/// Distinct words of one message in the index: the first this many, in order of appearance.
/// A longer message is still found by those (and read whole when it is).
pub const MAX_INDEXED_WORDS: usize = 64;
/// A word shorter than this is not indexed (it still has to match when a query names it).
pub const MIN_INDEXED_CHARS: usize = 2;
/// Bounds of `q`, in characters.
pub const MIN_QUERY_CHARS: usize = 2;
pub const MAX_QUERY_CHARS: usize = 100;

/// The folded words of `text`, in order, repeats kept.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|raw| !raw.is_empty())
        .map(fold)
        .filter(|word| !word.is_empty())
}

/// One word folded: compatibility-decomposed, combining marks dropped, lower-cased, cut to
/// `MAX_WORD_CHARS`.
fn fold(raw: &str) -> String {
    raw.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .take(MAX_WORD_CHARS)
        .collect()
}

/// The words of a message that go into the index: distinct, long enough, at most
/// `MAX_INDEXED_WORDS` of them.
pub fn indexed_words(text: &str) -> BTreeSet<String> {
    let mut indexed = BTreeSet::new();
    for word in words(text).filter(|w| w.chars().count() >= MIN_INDEXED_CHARS) {
        if indexed.len() == MAX_INDEXED_WORDS {
            break;
        }
        indexed.insert(word);
    }
    indexed
}

/// What changes in the index when a message's searchable text goes from `before` to `after`
/// (`None`: not searchable, because it is new, deleted, or a reply still being written).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexChange {
    pub add: BTreeSet<String>,
    pub remove: BTreeSet<String>,
}

impl IndexChange {
    pub fn between(before: Option<&str>, after: Option<&str>) -> Self {
        let before = before.map(indexed_words).unwrap_or_default();
        let after = after.map(indexed_words).unwrap_or_default();
        Self {
            add: after.difference(&before).cloned().collect(),
            remove: before.difference(&after).cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// A message a search found, with the channel it is in.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub message: Message,
    pub channel: ChannelRef,
}

/// A channel as a search result names it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ChannelRef {
    pub id: ChannelId,
    pub name: ChannelName,
    pub kind: ChannelKind,
}

impl From<&Channel> for ChannelRef {
    fn from(channel: &Channel) -> Self {
        Self {
            id: channel.id.clone(),
            name: channel.name.clone(),
            kind: channel.kind,
        }
    }
}

/// A parsed `q`: every word must occur in a message, the last one as a prefix of a word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchQuery {
    /// The words before the last, each to be found whole.
    pub whole: BTreeSet<String>,
    /// The last word, to be found as the beginning of a word.
    pub prefix: String,
}

/// Where a search starts reading the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The messages holding this whole word, newest first.
    Word(String),
    /// The messages holding a word that begins so (read by word, then sorted).
    Prefix(String),
}

impl SearchQuery {
    /// `q` read as a query: refused outside its length; `None` when it holds no word long
    /// enough to be looked up (`!!`, `a b`), which finds nothing.
    pub fn parse(q: &str) -> Result<Option<Self>, Invalid> {
        let length = q.chars().count();
        if !(MIN_QUERY_CHARS..=MAX_QUERY_CHARS).contains(&length) {
            return Err(Invalid::parameter(
                "q",
                format!("{MIN_QUERY_CHARS} to {MAX_QUERY_CHARS} characters"),
            ));
        }
        let mut all: Vec<String> = words(q).collect();
        let Some(prefix) = all.pop() else {
            return Ok(None);
        };
        let query = Self {
            whole: all.into_iter().collect(),
            prefix,
        };
        Ok(query.lookup().is_some().then_some(query))
    }

    /// Where to read the index: the longest whole word (the rarest, as a rule), else the
    /// prefix; `None` when every word is too short to be indexed.
    pub fn lookup(&self) -> Option<Lookup> {
        let long_enough = |word: &&String| word.chars().count() >= MIN_INDEXED_CHARS;
        let longest = self
            .whole
            .iter()
            .filter(long_enough)
            .max_by_key(|word| word.chars().count());
        match longest {
            Some(word) => Some(Lookup::Word(word.clone())),
            None => Some(&self.prefix)
                .filter(long_enough)
                .map(|prefix| Lookup::Prefix(prefix.clone())),
        }
    }

    /// Whether `text` has every word of the query (the last as a prefix).
    pub fn matches(&self, text: &str) -> bool {
        let found: BTreeSet<String> = words(text).collect();
        self.whole.iter().all(|word| found.contains(word))
            && found.iter().any(|word| word.starts_with(&self.prefix))
    }

    /// The query in a canonical form (a cursor is bound to it).
    pub fn canonical(&self) -> String {
        let mut text: Vec<&str> = self.whole.iter().map(String::as_str).collect();
        text.push(&self.prefix);
        text.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn query(q: &str) -> SearchQuery {
        SearchQuery::parse(q).unwrap().unwrap()
    }

    #[test]
    fn words_are_case_and_accent_folded() {
        let found: Vec<String> = words("Café CRÈME, naïve—Ångström! ﬁne ① x²").collect();
        assert_eq!(
            found,
            ["cafe", "creme", "naive", "angstrom", "fine", "1", "x2"]
        );
    }

    #[test]
    fn the_last_word_is_a_prefix_and_every_word_must_occur() {
        let q = query("launch fri");
        assert!(q.matches("The launch is on Friday"));
        assert!(!q.matches("The launch is on Monday"));
        assert!(!q.matches("Friday it is"));
        assert!(query("cafe").matches("Un café ?"));
        assert!(query("CAFÉ").matches("cafe au lait"));
        // Words, not substrings.
        assert!(!query("aunch fri").matches("The launch is on Friday"));
    }

    #[test]
    fn the_lookup_is_the_longest_whole_word_else_the_prefix() {
        assert_eq!(
            query("on launch fri").lookup(),
            Some(Lookup::Word("launch".into()))
        );
        assert_eq!(query("fri").lookup(), Some(Lookup::Prefix("fri".into())));
        assert_eq!(query("a bc").lookup(), Some(Lookup::Prefix("bc".into())));
        assert_eq!(query("ab c").lookup(), Some(Lookup::Word("ab".into())));
    }

    #[test]
    fn queries_are_refused_outside_their_length_and_find_nothing_without_a_word() {
        for q in ["", "a", &"x".repeat(101)] {
            assert!(SearchQuery::parse(q).is_err(), "{q:?}");
        }
        for q in ["  ", "!!", "a b", " a "] {
            assert_eq!(SearchQuery::parse(q), Ok(None), "{q:?}");
        }
    }

    #[test]
    fn a_message_indexes_its_distinct_words_up_to_the_cap() {
        let indexed = indexed_words("the cat and the hat, a cat");
        assert_eq!(
            indexed.into_iter().collect::<Vec<_>>(),
            ["and", "cat", "hat", "the"]
        );
        let long: String = (0..200).map(|i| format!("w{i} ")).collect();
        assert_eq!(indexed_words(&long).len(), MAX_INDEXED_WORDS);
        let cut = indexed_words(&"é".repeat(100));
        assert_eq!(cut.iter().next().unwrap().chars().count(), MAX_WORD_CHARS);
        // A long query word is cut the same way, so it still finds the long word.
        assert!(query(&"E".repeat(60)).matches(&"é".repeat(100)));
    }

    #[test]
    fn an_edit_adds_and_removes_only_the_words_that_changed() {
        let change = IndexChange::between(Some("see you monday"), Some("see you friday"));
        assert_eq!(change.add.into_iter().collect::<Vec<_>>(), ["friday"]);
        assert_eq!(change.remove.into_iter().collect::<Vec<_>>(), ["monday"]);
        assert!(IndexChange::between(Some("Same"), Some("same!")).is_empty());
        let deleted = IndexChange::between(Some("gone now"), None);
        assert_eq!(deleted.remove.len(), 2);
    }

    proptest! {
        #[test]
        fn folding_never_panics_and_words_stay_bounded(text in any::<String>()) {
            for word in words(&text) {
                prop_assert!(!word.is_empty());
                prop_assert!(word.chars().count() <= MAX_WORD_CHARS);
                prop_assert!(word.chars().all(char::is_alphanumeric));
            }
            prop_assert!(indexed_words(&text).len() <= MAX_INDEXED_WORDS);
        }

        #[test]
        fn a_parsed_query_matches_the_text_it_came_from(text in "[a-zA-Zéü ]{2,60}") {
            if let Ok(Some(q)) = SearchQuery::parse(&text) {
                prop_assert!(q.matches(&text));
            }
        }

        #[test]
        fn parsing_any_query_never_panics(text in any::<String>()) {
            if let Ok(Some(q)) = SearchQuery::parse(&text) {
                let _ = q.matches(&text);
            }
        }
    }
}
