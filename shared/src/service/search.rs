//! `GET /search/messages`: words found through the index (`storage::search`), newest first,
//! across the caller's channels or in one.
//!
//! Each channel's index is read newest first below the cursor, and the channels' candidates
//! are merged by message id (ids are UUIDv7: they sort by time). A candidate is taken only
//! once every channel that may hold a newer one has been read that far, so pages are in
//! order across channels. Candidates are then read whole and checked (every word, not
//! deleted, not a blocked sender): the index finds messages by one word, the check by all.

use std::collections::{BTreeSet, HashMap, VecDeque};

use futures::TryFutureExt;

use crate::domain::{
    Caller, Channel, ChannelId, ChannelRef, Limit, Lookup, Message, MessageId, Page, PageRequest,
    SearchHit, SearchQuery, UserId,
};
use crate::error::AppError;
use crate::storage::Read;
use crate::AppContext;

use super::messages::{member_of, with_attachment_urls};

/// A search across channels covers at most this many (one page of the caller's channel
/// list); a caller in more is asked for `channel_id`.
pub const MAX_SEARCHED_CHANNELS: usize = Limit::MAX as usize;
/// Candidates read whole per call at most; a page that reaches it ends early, with a cursor.
pub const MAX_CANDIDATES_PER_CALL: usize = 500;
/// Candidates read whole per round at least (one BatchGetItem holds 100).
const CANDIDATE_BATCH: usize = 100;

/// One page of search results.
pub async fn search(
    ctx: &AppContext,
    caller: &Caller,
    q: &str,
    channel: Option<&ChannelId>,
    page: &PageRequest,
) -> Result<Page<SearchHit>, AppError> {
    let Some(query) = SearchQuery::parse(q)? else {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    };
    let lookup = query
        .lookup()
        .ok_or_else(|| AppError::internal("a parsed query has a lookup"))?;
    let limit = page.limit.unwrap_or(Limit::DEFAULT).get() as usize;
    let scope = format!(
        "search:{}:{}:{}",
        caller.id,
        channel.map(ChannelId::as_str).unwrap_or("*"),
        query.canonical()
    );
    let below = page
        .cursor
        .as_deref()
        .map(|cursor| ctx.store.search_continues_below(&scope, cursor))
        .transpose()?;
    let mut merge = Merge::new(&lookup, limit, below);
    // The first index reads run beside the reads that say which channels may be searched.
    let (channels, blocked) = match channel {
        Some(channel) => {
            merge.add_channels(std::slice::from_ref(channel));
            let (context, ()) = tokio::try_join!(
                ctx.store
                    .message_context(channel, &caller.id, None, None)
                    .err_into::<AppError>(),
                merge.read(ctx)
            )?;
            let (channel, _) = member_of(&context, caller)?;
            let channel = channel.clone();
            let blocked = context.caller.map(|user| user.blocked).unwrap_or_default();
            (vec![channel], blocked)
        }
        None => {
            let (ids, blocked) = searched_channels(ctx, caller).await?;
            merge.add_channels(&ids);
            let (channels, ()) = tokio::try_join!(
                ctx.store
                    .get_channels(&ids, Read::Eventual)
                    .err_into::<AppError>(),
                merge.read(ctx)
            )?;
            (channels, blocked)
        }
    };
    let channels: HashMap<ChannelId, Channel> = channels
        .into_iter()
        .map(|channel| (channel.id.clone(), channel))
        .collect();
    let wanted = |message: &Message| {
        !blocked.contains(&message.sender.id)
            && channels.contains_key(&message.channel_id)
            && message
                .searchable_text()
                .is_some_and(|text| query.matches(text))
    };
    let (found, next) = merge.collect(ctx, wanted).await?;
    let mut items = Vec::with_capacity(found.len());
    for message in found {
        let Some(channel) = channels.get(&message.channel_id) else {
            continue;
        };
        items.push(SearchHit {
            channel: ChannelRef::from(channel),
            message: with_attachment_urls(ctx, message).await?,
        });
    }
    let next_cursor = next
        .map(|last| ctx.store.search_cursor(&scope, &last))
        .transpose()?;
    Ok(Page { items, next_cursor })
}

/// The caller's channels (at most `MAX_SEARCHED_CHANNELS`) and the users it blocked, after
/// the same account and session check every operation makes.
async fn searched_channels(
    ctx: &AppContext,
    caller: &Caller,
) -> Result<(Vec<ChannelId>, BTreeSet<UserId>), AppError> {
    let first_page = PageRequest {
        limit: Some(Limit::MAX_PAGE),
        cursor: None,
    };
    let (ids, profile) = tokio::try_join!(
        ctx.store.list_member_channel_ids(&caller.id, &first_page),
        ctx.store.get_user(&caller.id)
    )?;
    let user = super::existing_caller(profile, caller)?;
    if ids.next_cursor.is_some() {
        return Err(AppError::BadRequest(format!(
            "you are in more than {MAX_SEARCHED_CHANNELS} channels: search one at a time with channel_id"
        )));
    }
    Ok((ids.items, user.blocked))
}

/// What a source reads of its channel's index.
enum Reading {
    /// The messages holding a whole word, a page at a time.
    Word(String),
    /// The messages holding a longer word that begins so, all at once.
    Extensions(String),
}

/// One channel's index, read newest first.
struct Source {
    channel: ChannelId,
    reading: Reading,
    /// Read, not yet taken, newest first.
    buffered: VecDeque<MessageId>,
    /// The next read continues below this message.
    below: Option<MessageId>,
    more: bool,
}

/// The channels' candidates merged newest first.
struct Merge<'a> {
    lookup: &'a Lookup,
    limit: usize,
    below: Option<MessageId>,
    sources: Vec<Source>,
}

impl<'a> Merge<'a> {
    fn new(lookup: &'a Lookup, limit: usize, below: Option<MessageId>) -> Self {
        Self {
            lookup,
            limit,
            below,
            sources: Vec::new(),
        }
    }

    /// A lookup word is read whole; a prefix both whole (paged, as `fri` itself) and through
    /// the longer words it begins (`friday`).
    fn add_channels(&mut self, channels: &[ChannelId]) {
        let readings = || match self.lookup {
            Lookup::Word(word) => vec![Reading::Word(word.clone())],
            Lookup::Prefix(prefix) => vec![
                Reading::Word(prefix.clone()),
                Reading::Extensions(prefix.clone()),
            ],
        };
        let sources: Vec<Source> = channels
            .iter()
            .flat_map(|channel| {
                readings().into_iter().map(|reading| Source {
                    channel: channel.clone(),
                    reading,
                    buffered: VecDeque::new(),
                    below: self.below.clone(),
                    more: true,
                })
            })
            .collect();
        self.sources.extend(sources);
    }

    /// Reads the next candidates of every channel that has run out of them (all at once).
    async fn read(&mut self, ctx: &AppContext) -> Result<(), AppError> {
        let limit = self.limit;
        let reads = self
            .sources
            .iter_mut()
            .filter(|source| source.buffered.is_empty() && source.more)
            .map(|source| async move {
                let below = source.below.as_ref();
                let (messages, more) = match &source.reading {
                    Reading::Word(word) => {
                        let found = ctx
                            .store
                            .word_matches(&source.channel, word, below, limit + 1)
                            .await?;
                        (found.messages, found.more)
                    }
                    Reading::Extensions(prefix) => {
                        let found = ctx
                            .store
                            .extension_matches(&source.channel, prefix, below)
                            .await?;
                        (found, false)
                    }
                };
                source.more = more && !messages.is_empty();
                if let Some(last) = messages.last() {
                    source.below = Some(last.clone());
                }
                source.buffered.extend(messages);
                Ok::<_, AppError>(())
            });
        futures::future::try_join_all(reads).await?;
        Ok(())
    }

    /// The newest candidates that are surely next: taken only while every channel that may
    /// still hold a newer one has one read.
    fn take(&mut self, wanted: usize) -> Vec<(ChannelId, MessageId)> {
        let mut taken = Vec::new();
        while taken.len() < wanted {
            if self
                .sources
                .iter()
                .any(|source| source.buffered.is_empty() && source.more)
            {
                break;
            }
            let newest = self
                .sources
                .iter_mut()
                .filter_map(|source| Some((source.buffered.front()?.clone(), source)))
                .max_by(|(a, _), (b, _)| a.cmp(b));
            let Some((id, source)) = newest else { break };
            source.buffered.pop_front();
            taken.push((source.channel.clone(), id));
        }
        taken
    }

    fn exhausted(&self) -> bool {
        self.sources
            .iter()
            .all(|source| source.buffered.is_empty() && !source.more)
    }

    /// Up to `limit` messages that pass `wanted`, newest first, and the message the next
    /// page continues below (`None` at the end).
    async fn collect(
        mut self,
        ctx: &AppContext,
        wanted: impl Fn(&Message) -> bool,
    ) -> Result<(Vec<Message>, Option<MessageId>), AppError> {
        let mut found = Vec::new();
        let mut examined = 0;
        let mut seen = std::collections::HashSet::new();
        loop {
            // Read whole in batches of at least CANDIDATE_BATCH: a query whose other words are
            // rare passes few candidates, and each batch is a round trip.
            let mut candidates = self.take((self.limit - found.len()).max(CANDIDATE_BATCH));
            // A message with both the prefix as a word and a longer word comes twice.
            candidates.retain(|(_, id)| seen.insert(id.clone()));
            if candidates.is_empty() {
                if self.exhausted() {
                    return Ok((found, None));
                }
                self.read(ctx).await?;
                continue;
            }
            examined += candidates.len();
            let mut read: HashMap<MessageId, Message> = ctx
                .store
                .get_messages(&candidates)
                .await?
                .into_iter()
                .map(|message| (message.id.clone(), message))
                .collect();
            for (_, id) in &candidates {
                if let Some(message) = read.remove(id).filter(|message| wanted(message)) {
                    found.push(message);
                    if found.len() == self.limit {
                        return Ok((found, Some(id.clone())));
                    }
                }
            }
            if examined >= MAX_CANDIDATES_PER_CALL {
                let last = candidates.last().map(|(_, id)| id.clone());
                return Ok((found, last));
            }
        }
    }
}
