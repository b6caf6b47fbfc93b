use std::collections::HashMap;

use futures::{StreamExt, TryFutureExt, TryStreamExt};

use super::existing_caller;
use super::refusals::{
    account_gone, already_member, channel_busy, consent_missing, no_longer_a_member,
};
use super::require_caller;
use crate::domain::{
    successor, AddRefused, Caller, Channel, ChannelDeleteRefused, ChannelId, ChannelKind,
    ChannelSettings, ChannelSummary, InboxEntry, LastMessage, LeaveRefused, Leaving, Limit, Member,
    MemberRole, Membership, MessageId, NewChannel, NotFound, Page, PageRequest, PairKey,
    RoleRefused, Timestamp, UnreadCount, UnreadTotals, User, UserId, UserName,
};
use crate::error::AppError;
use crate::storage::{
    Admission, ChannelAccess, ChannelCreated, ChannelDeletion, Managed, MemberAdded,
};
use crate::AppContext;

pub use crate::domain::ChannelView;

/// Whether a create made a new channel or found the pair's existing direct channel.
pub enum Created {
    New(ChannelView),
    Existing(ChannelView),
}

const ASSISTANT_NAME: &str = "Assistant";

/// Names the members (current names; the assistant has a fixed one). Members whose account
/// was deleted are left out until the maintenance worker removes them.
fn name_members(memberships: Vec<Membership>, users: &HashMap<UserId, User>) -> Vec<Member> {
    let mut members: Vec<Member> = memberships
        .into_iter()
        .filter_map(|m| {
            let name = if m.user_id.as_str() == UserId::ASSISTANT {
                UserName::parse(ASSISTANT_NAME).ok()?
            } else {
                users.get(&m.user_id)?.name.clone()
            };
            Some(Member {
                user_id: m.user_id,
                name,
                role: m.role,
                joined_at: m.joined_at,
            })
        })
        .collect();
    members.sort_by(|a, b| (a.joined_at, &a.user_id).cmp(&(b.joined_at, &b.user_id)));
    members
}

/// How many members a channel shows (`GET /channels/{id}` and every answer with a channel);
/// `GET /channels/{id}/members` pages them all.
pub const MEMBERS_SHOWN: u32 = Limit::MAX as u32;

fn first_members() -> PageRequest {
    PageRequest {
        limit: Some(Limit::MAX_PAGE),
        cursor: None,
    }
}

/// The channel with its members named.
async fn view(
    ctx: &AppContext,
    channel: Channel,
    memberships: Vec<Membership>,
) -> Result<ChannelView, AppError> {
    let ids: Vec<UserId> = memberships.iter().map(|m| m.user_id.clone()).collect();
    let users = ctx.store.get_users_for_display(&ids).await?;
    Ok(ChannelView {
        channel,
        members: name_members(memberships, &users),
    })
}

/// A channel just created, with its founding members (read from the table itself: the
/// members-by-join index may not show them yet), for `channel.created`.
pub async fn founded(ctx: &AppContext, channel: Channel) -> Result<ChannelView, AppError> {
    let mut members = ctx.store.channel_members(&channel.id).await?;
    members.truncate(MEMBERS_SHOWN as usize);
    view(ctx, channel, members).await
}

/// A channel with its first members, as a channel answer shows it (`channel.updated`).
pub async fn shown(ctx: &AppContext, channel: Channel) -> Result<ChannelView, AppError> {
    let members = ctx
        .store
        .members_by_join(&channel.id, &first_members())
        .await?;
    view(ctx, channel, members.items).await
}

/// What `load` read: the caller's profile, the channel, the caller's membership, the first
/// members by join time, and the channel's newest message (deleted or not).
struct Loaded {
    caller: User,
    channel: Channel,
    membership: Option<Membership>,
    members: Vec<Membership>,
    activity: Option<MessageId>,
}

/// Reads the channel, the caller's membership and profile (one BatchGetItem, consistent)
/// and, in parallel, the first members by join time. Refuses deleted accounts and unknown or
/// deleted channels.
async fn load(ctx: &AppContext, caller: &Caller, channel: &ChannelId) -> Result<Loaded, AppError> {
    let caller_only = [caller.id.clone()];
    let first = first_members();
    let (access, members) = tokio::try_join!(
        ctx.store.channel_access(channel, &caller.id, &caller_only),
        ctx.store.members_by_join(channel, &first)
    )?;
    let ChannelAccess {
        channel,
        membership,
        users,
        activity,
        ..
    } = access;
    Ok(Loaded {
        caller: existing_caller(users.into_iter().next(), caller)?,
        channel: channel.ok_or(NotFound::Channel)?,
        membership,
        members: members.items,
        activity,
    })
}

/// `POST /channels`: one read of the named users, one transaction.
pub async fn create(
    ctx: &AppContext,
    caller: &Caller,
    new: NewChannel,
) -> Result<Created, AppError> {
    let mut wanted = vec![caller.id.clone()];
    wanted.extend(new.member_ids.iter().cloned());
    let pair = match (new.kind, new.member_ids.first()) {
        (ChannelKind::Direct, Some(other)) => Some(PairKey::of(&caller.id, other)),
        _ => None,
    };
    // A pair's existing direct channel is found with the first read, before any write.
    let existing_direct = async {
        match &pair {
            Some(pair) => ctx.store.direct_channel(pair).await,
            None => Ok(None),
        }
    };
    let (users, partners, existing) = tokio::try_join!(
        ctx.store.get_users(&wanted),
        ctx.store.partners_among(&caller.id, &new.member_ids),
        existing_direct
    )?;
    existing_caller(users.get(&caller.id).cloned(), caller)?;
    let unknown: Vec<&str> = new
        .member_ids
        .iter()
        .filter(|id| !users.contains_key(*id))
        .map(UserId::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(AppError::invalid_field(
            "unknown_member_ids",
            unknown.join(","),
        ));
    }
    let strangers: Vec<&UserId> = new
        .member_ids
        .iter()
        .filter(|id| !partners.contains(*id))
        .collect();
    if !strangers.is_empty() {
        return Err(consent_missing(&strangers));
    }
    if let Some(existing) = existing {
        return reopen_direct(ctx, caller, &existing, &users).await;
    }

    let now = Timestamp::now();
    let id = ChannelId::generate();
    let membership = |user_id: UserId, role| Membership {
        channel_id: id.clone(),
        user_id,
        role,
        joined_at: now,
    };
    let mut memberships = vec![membership(caller.id.clone(), MemberRole::Owner)];
    memberships.extend(
        new.member_ids
            .iter()
            .map(|m| membership(m.clone(), MemberRole::Member)),
    );
    if new.kind == ChannelKind::Assistant {
        if let Some(assistant) = UserId::parse(UserId::ASSISTANT) {
            memberships.push(membership(assistant, MemberRole::Member));
        }
    }
    let channel = Channel {
        id: id.clone(),
        name: new.name,
        description: new.description,
        kind: new.kind,
        private: new.private,
        created_by: caller.id.clone(),
        created_at: now,
        member_count: memberships.len() as u32,
        slow_mode_seconds: 0,
    };
    match ctx
        .store
        .create_channel(&channel, &memberships, pair.as_ref())
        .await?
    {
        ChannelCreated::Created => Ok(Created::New(ChannelView {
            members: name_members(memberships, &users),
            channel,
        })),
        // Claimed between the read and the write.
        ChannelCreated::DirectExists(existing) => {
            reopen_direct(ctx, caller, &existing, &users).await
        }
        // The partnership ended between the read and the write.
        ChannelCreated::NotPartners => {
            Err(consent_missing(&new.member_ids.iter().collect::<Vec<_>>()))
        }
    }
}

/// A pair's existing direct channel, asked for again: opening it brings it back to the list
/// of a caller who had left it. Its two members are the profiles `create` read.
async fn reopen_direct(
    ctx: &AppContext,
    caller: &Caller,
    existing: &ChannelId,
    users: &HashMap<UserId, User>,
) -> Result<Created, AppError> {
    let (
        Loaded {
            channel, members, ..
        },
        _,
    ) = tokio::try_join!(
        load(ctx, caller, existing),
        ctx.store
            .hide_channel(existing, &caller.id, None)
            .err_into::<AppError>()
    )?;
    Ok(Created::Existing(ChannelView {
        members: name_members(members, users),
        channel,
    }))
}

pub async fn get(
    ctx: &AppContext,
    caller: &Caller,
    id: &ChannelId,
) -> Result<ChannelView, AppError> {
    let Loaded {
        channel,
        membership,
        members,
        ..
    } = load(ctx, caller, id).await?;
    channel.ensure_visible(membership.as_ref())?;
    view(ctx, channel, members).await
}

/// `GET /channels/{id}/members`: every member, first joined first, a page at a time; as
/// visible as the channel.
pub async fn members(
    ctx: &AppContext,
    caller: &Caller,
    id: &ChannelId,
    page: &PageRequest,
) -> Result<Page<Member>, AppError> {
    let caller_only = [caller.id.clone()];
    let (access, memberships) = tokio::try_join!(
        ctx.store
            .channel_access(id, &caller.id, &caller_only)
            .err_into::<AppError>(),
        ctx.store.members_by_join(id, page).err_into::<AppError>()
    )?;
    existing_caller(access.users.into_iter().next(), caller)?;
    let channel = access.channel.ok_or(NotFound::Channel)?;
    channel.ensure_visible(access.membership.as_ref())?;
    let ids: Vec<UserId> = memberships
        .items
        .iter()
        .map(|m| m.user_id.clone())
        .collect();
    let users = ctx.store.get_users_for_display(&ids).await?;
    Ok(Page {
        items: name_members(memberships.items, &users),
        next_cursor: memberships.next_cursor,
    })
}

/// The caller's channel list: summaries (last message, unread and mention counts, role,
/// mute), newest activity first. Two round trips: the caller's profile ‖ a page of its
/// memberships by activity; then its channels ‖ one bounded count after the read marker for
/// each channel with something newer than it. A direct channel the caller left is missing
/// until a newer message is in it (so a page may come back shorter than its limit). Only a
/// newest message by someone the caller blocked costs a third, for that channel.
pub async fn list_mine(
    ctx: &AppContext,
    caller: &Caller,
    page: &PageRequest,
) -> Result<Page<ChannelSummary>, AppError> {
    let (user, entries) = tokio::try_join!(
        require_caller(ctx, caller),
        ctx.store
            .inbox_page(&caller.id, page)
            .err_into::<AppError>()
    )?;
    let next_cursor = entries.next_cursor;
    let entries: Vec<InboxEntry> = entries
        .items
        .into_iter()
        .filter(|entry| !entry.is_hidden())
        .collect();
    let ids: Vec<ChannelId> = entries.iter().map(|e| e.channel_id.clone()).collect();
    let (channels, counts) = tokio::try_join!(
        ctx.store
            .channels_with_activity(&ids)
            .err_into::<AppError>(),
        unread_counts(ctx, &user, &entries)
    )?;
    let mut summaries = Vec::new();
    for entry in entries {
        let Some((channel, activity)) = channels.get(&entry.channel_id).cloned() else {
            // Deleted a moment ago: its purge takes the membership out.
            continue;
        };
        let last_activity_at = activity
            .last_activity_at
            .max(entry.last_activity_at)
            .unwrap_or(channel.created_at)
            .max(channel.created_at);
        let count = counts.get(&entry.channel_id).copied().unwrap_or_default();
        summaries.push(ChannelSummary {
            channel,
            role: entry.role,
            muted: entry.muted,
            last_message: activity.last_message,
            last_activity_at,
            unread_count: count.unread,
            mention_count: count.mentions,
        });
    }
    preview_past_blocked(ctx, &user, &mut summaries).await?;
    // The list is read in activity order; what the router recorded a moment later may move
    // one within the page.
    summaries.sort_by_key(|summary| std::cmp::Reverse(summary.last_activity_at));
    Ok(Page {
        items: summaries,
        next_cursor,
    })
}

/// The unread and mention counts of the entries that may have any, counted at once.
async fn unread_counts(
    ctx: &AppContext,
    reader: &User,
    entries: &[InboxEntry],
) -> Result<HashMap<ChannelId, UnreadCount>, AppError> {
    // Made up front (not in the stream's closure), so the future stays `Send`.
    let counts: Vec<_> = entries
        .iter()
        .filter(|entry| entry.may_have_unread())
        .map(|entry| count_unread(ctx, reader, entry))
        .collect();
    Ok(futures::stream::iter(counts)
        .buffer_unordered(UNREAD_COUNT_CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?
        .into_iter()
        .collect())
}

async fn count_unread(
    ctx: &AppContext,
    reader: &User,
    entry: &InboxEntry,
) -> Result<(ChannelId, UnreadCount), AppError> {
    let marker = entry.last_read_message_id.as_ref();
    let candidates = ctx
        .store
        .unread_candidates(&entry.channel_id, marker)
        .await?;
    let count = UnreadCount::of(&candidates, &reader.id, marker, &reader.blocked);
    Ok((entry.channel_id.clone(), count))
}

/// How many unread counts run at once (a page holds at most 100 channels).
const UNREAD_COUNT_CONCURRENCY: usize = 50;

/// A summary whose newest message is by someone the reader blocked shows the newest one by
/// anyone else instead (the reader's history leaves the blocked user out too).
async fn preview_past_blocked(
    ctx: &AppContext,
    reader: &User,
    summaries: &mut [ChannelSummary],
) -> Result<(), AppError> {
    let blocked = &reader.blocked;
    let lookups = summaries.iter_mut().filter(|summary| {
        summary
            .last_message
            .as_ref()
            .is_some_and(|last| blocked.contains(&last.sender.id))
    });
    futures::future::try_join_all(lookups.map(|summary| async move {
        let newest = ctx
            .store
            .newest_live_message(&summary.channel.id, blocked)
            .await?;
        summary.last_message = newest.as_ref().map(LastMessage::of);
        Ok::<_, AppError>(())
    }))
    .await?;
    Ok(())
}

/// `GET /me/unread`: the caller's unread and mention totals over every channel it is in
/// (muted ones included, as each channel's count is). One Query of the caller's memberships
/// (a page per few thousand channels), then one bounded count per channel with something
/// newer than its marker.
pub async fn unread_totals(ctx: &AppContext, caller: &Caller) -> Result<UnreadTotals, AppError> {
    let (user, entries) = tokio::try_join!(
        require_caller(ctx, caller),
        ctx.store.inbox_entries(&caller.id).err_into::<AppError>()
    )?;
    let visible: Vec<InboxEntry> = entries.into_iter().filter(|e| !e.is_hidden()).collect();
    let mut totals = UnreadTotals::default();
    for count in unread_counts(ctx, &user, &visible).await?.into_values() {
        totals.add(count);
    }
    Ok(totals)
}

/// Mutes (or unmutes) a channel for the caller: members only (403 for a public channel the
/// caller has not joined, 404 for a private one or an unknown one).
pub async fn set_muted(
    ctx: &AppContext,
    caller: &Caller,
    id: &ChannelId,
    muted: bool,
) -> Result<(), AppError> {
    let caller_only = [caller.id.clone()];
    let access = ctx
        .store
        .channel_access(id, &caller.id, &caller_only)
        .await?;
    existing_caller(access.users.into_iter().next(), caller)?;
    let channel = access.channel.ok_or(NotFound::Channel)?;
    channel.ensure_member(access.membership.as_ref())?;
    if !ctx.store.set_muted(id, &caller.id, muted).await? {
        return Err(no_longer_a_member());
    }
    Ok(())
}

pub async fn list_public(
    ctx: &AppContext,
    caller: &Caller,
    page: &PageRequest,
) -> Result<Page<Channel>, AppError> {
    let (_, page) = tokio::try_join!(
        require_caller(ctx, caller),
        ctx.store.list_public_channels(page).err_into::<AppError>()
    )?;
    Ok(page)
}

/// Adds `user` as a member (a group channel, by one of its members). Pushes `member.joined`.
pub async fn add_member(
    ctx: &AppContext,
    caller: &Caller,
    id: &ChannelId,
    user: &str,
) -> Result<ChannelView, AppError> {
    let loaded = load(ctx, caller, id).await?;
    loaded.channel.ensure_can_add(loaded.membership.as_ref())?;
    let user = UserId::parse(user)
        .filter(|u| u.as_str() != UserId::ASSISTANT)
        .ok_or(NotFound::User)?;
    admit(ctx, loaded, user, Admission::AddedBy(&caller.id)).await
}

/// Joins a public channel. Pushes `member.joined`.
pub async fn join(
    ctx: &AppContext,
    caller: &Caller,
    id: &ChannelId,
) -> Result<ChannelView, AppError> {
    let loaded = load(ctx, caller, id).await?;
    loaded.channel.ensure_can_join(loaded.membership.as_ref())?;
    admit(ctx, loaded, caller.id.clone(), Admission::Joined).await
}

/// `caller` is the profile `load` already read (consistently); it is not read again.
async fn admit(
    ctx: &AppContext,
    loaded: Loaded,
    user: UserId,
    admission: Admission<'_>,
) -> Result<ChannelView, AppError> {
    let Loaded {
        caller,
        mut channel,
        mut members,
        activity,
        ..
    } = loaded;
    if members.iter().any(|m| m.user_id == user) {
        return Err(already_member());
    }
    if channel.is_full(ctx.config.limits.max_group_members) {
        return Err(AppError::conflict("the channel is full"));
    }
    let membership = Membership {
        channel_id: channel.id.clone(),
        user_id: user,
        role: MemberRole::Member,
        joined_at: Timestamp::now(),
    };
    let others: Vec<UserId> = members
        .iter()
        .map(|m| m.user_id.clone())
        .filter(|id| *id != caller.id)
        .collect();
    // A newcomer other than the caller is read consistently (they may have registered a
    // moment ago and must be in the answer and the push); the others' names may be a moment
    // old.
    let newcomer = async {
        if membership.user_id == caller.id {
            Ok(HashMap::new())
        } else {
            ctx.store
                .get_users(std::slice::from_ref(&membership.user_id))
                .await
        }
    };
    let (added, newcomer, mut users) = tokio::try_join!(
        ctx.store.add_member(
            &channel,
            &membership,
            admission,
            ctx.config.limits.max_group_members,
            activity.as_ref()
        ),
        newcomer,
        ctx.store.get_users_for_display(&others)
    )?;
    match (added, admission) {
        (MemberAdded::Added, _) => {}
        (MemberAdded::AlreadyMember, _) => return Err(already_member()),
        (MemberAdded::AdderLeft, _) => return Err(AddRefused::NotMember.into()),
        (MemberAdded::UserGone, Admission::Joined) => return Err(account_gone()),
        (MemberAdded::UserGone, Admission::AddedBy(_)) => return Err(NotFound::User.into()),
        (MemberAdded::NotPartners, _) => return Err(consent_missing(&[&membership.user_id])),
        (MemberAdded::ChannelClosed, _) => {
            return Err(AppError::conflict(
                "the channel is full or no longer open to new members",
            ))
        }
    }
    users.extend(newcomer);
    users.insert(caller.id.clone(), caller);
    channel.member_count += 1;
    // The newest member is shown when the first page has room for it.
    if members.len() < MEMBERS_SHOWN as usize {
        members.push(membership.clone());
    }
    let view = ChannelView {
        members: name_members(members, &users),
        channel,
    };
    Ok(view)
}

/// Leaves a group (pushes `member.left`), or hides a direct channel from the caller's list
/// until its next message (nobody is told). The owner hands the channel over on the way out
/// (to the longest-standing admin, else the longest-standing member), in the same
/// transaction; a channel nobody else is in is deleted. The first members by join time are
/// read beside the channel, so even the owner's leave is two round trips.
pub async fn leave(ctx: &AppContext, caller: &Caller, id: &ChannelId) -> Result<(), AppError> {
    for _ in 0..MANAGE_ATTEMPTS {
        let caller_only = [caller.id.clone()];
        let first = PageRequest {
            limit: Some(Limit::new(3)),
            cursor: None,
        };
        let (access, first) = tokio::try_join!(
            ctx.store
                .channel_access(id, &caller.id, &caller_only)
                .err_into::<AppError>(),
            ctx.store.members_by_join(id, &first).err_into::<AppError>()
        )?;
        existing_caller(access.users.into_iter().next(), caller)?;
        let channel = access.channel.ok_or(NotFound::Channel)?;
        let leaving = channel.ensure_can_leave(access.membership.as_ref())?;
        let Some(membership) = access.membership else {
            return Err(LeaveRefused::NotMember.into());
        };
        let done = match leaving {
            Leaving::Remove => ctx.store.remove_member(&channel.id, &caller.id).await?,
            Leaving::Hide => {
                ctx.store
                    .hide_channel(&channel.id, &caller.id, Some(Timestamp::now()))
                    .await?
            }
            Leaving::HandOver => {
                let candidates = access.admins.iter().chain(&first.items);
                match successor(&caller.id, candidates) {
                    Some(heir) => match ctx.store.hand_over(&membership, heir).await? {
                        Managed::Done => true,
                        Managed::Stale => continue,
                        Managed::ChannelGone => return Err(NotFound::Channel.into()),
                    },
                    None => {
                        return delete_emptied(ctx, &channel, &caller.id).await;
                    }
                }
            }
        };
        if !done {
            return Err(LeaveRefused::NotMember.into());
        }
        return Ok(());
    }
    Err(channel_busy())
}

/// Deletes a channel its last person leaves (its owner): nobody is left to keep it.
async fn delete_emptied(
    ctx: &AppContext,
    channel: &Channel,
    owner: &UserId,
) -> Result<(), AppError> {
    match ctx
        .store
        .mark_channel_deleted(channel, owner, None, Timestamp::now())
        .await?
    {
        ChannelDeletion::Deleted | ChannelDeletion::AlreadyGone => Ok(()),
        // Someone became the owner meanwhile: the leave is decided again.
        ChannelDeletion::NotOwner => Err(channel_busy()),
    }
}

/// How often a managing change is decided again when other changes keep moving its
/// premises (roles, members).
const MANAGE_ATTEMPTS: usize = 4;

/// What a managing route reads first, in one round trip: the channel, its admins, the
/// caller's membership and profile, and the target's membership and profile.
struct Managing {
    channel: Channel,
    caller: Option<Membership>,
    target: Option<Membership>,
    users: HashMap<UserId, User>,
}

async fn managing(
    ctx: &AppContext,
    caller: &Caller,
    id: &ChannelId,
    target: &UserId,
) -> Result<Managing, AppError> {
    let mut ids = vec![caller.id.clone()];
    if target != &caller.id {
        ids.push(target.clone());
    }
    let (access, target_membership) = tokio::try_join!(
        ctx.store
            .channel_access(id, &caller.id, &ids)
            .err_into::<AppError>(),
        ctx.store.membership(id, target).err_into::<AppError>()
    )?;
    let users: HashMap<UserId, User> = access
        .users
        .into_iter()
        .map(|user| (user.id.clone(), user))
        .collect();
    existing_caller(users.get(&caller.id).cloned(), caller)?;
    let channel = access.channel.ok_or(NotFound::Channel)?;
    // A member whose account is gone is as good as gone (the clean-up removes it).
    let target = target_membership.filter(|m| users.contains_key(&m.user_id));
    Ok(Managing {
        channel,
        caller: access.membership,
        target,
        users,
    })
}

/// `PATCH /channels/{id}`: the owner or an admin changes the settings given; pushes
/// `channel.updated` (from the stream). An empty change answers the channel as it is.
pub async fn update(
    ctx: &AppContext,
    caller: &Caller,
    id: &ChannelId,
    settings: &ChannelSettings,
) -> Result<ChannelView, AppError> {
    for _ in 0..MANAGE_ATTEMPTS {
        let Loaded {
            channel,
            membership,
            members,
            ..
        } = load(ctx, caller, id).await?;
        channel.ensure_can_change(membership.as_ref(), settings)?;
        let Some(membership) = membership else {
            return Err(NotFound::Channel.into());
        };
        if settings.is_empty() {
            return view(ctx, channel, members).await;
        }
        // The answer's member names are read beside the write: they depend on the members
        // read above, not on the write (a write refused as stale wastes that one read).
        let (managed, shown) = tokio::try_join!(
            ctx.store
                .update_channel_settings(&membership, settings)
                .err_into::<AppError>(),
            view(ctx, settings.applied_to(channel), members)
        )?;
        match managed {
            Managed::Done => return Ok(shown),
            Managed::Stale => continue,
            Managed::ChannelGone => return Err(NotFound::Channel.into()),
        }
    }
    Err(channel_busy())
}

/// `PATCH /channels/{id}/members/{user_id}`: the owner makes a member an admin or an admin
/// a member; pushes `member.updated`.
pub async fn set_role(
    ctx: &AppContext,
    caller: &Caller,
    id: &ChannelId,
    target: &UserId,
    role: MemberRole,
) -> Result<Member, AppError> {
    for _ in 0..MANAGE_ATTEMPTS {
        let found = managing(ctx, caller, id, target).await?;
        found
            .channel
            .ensure_can_set_role(found.caller.as_ref(), found.target.as_ref())?;
        let (Some(owner), Some(member)) = (found.caller, found.target) else {
            return Err(RoleRefused::NoSuchMember.into());
        };
        let name = found
            .users
            .get(target)
            .map(|user| user.name.clone())
            .ok_or(RoleRefused::NoSuchMember)?;
        let answer = Member {
            user_id: member.user_id.clone(),
            name,
            role,
            joined_at: member.joined_at,
        };
        if member.role == role {
            return Ok(answer);
        }
        match ctx.store.set_member_role(&owner, &member, role).await? {
            Managed::Done => return Ok(answer),
            Managed::Stale => continue,
            Managed::ChannelGone => return Err(NotFound::Channel.into()),
        }
    }
    Err(channel_busy())
}

/// `POST /channels/{id}/owner`: the owner hands the channel to another member and becomes
/// an admin; both hear `member.updated`.
pub async fn transfer(
    ctx: &AppContext,
    caller: &Caller,
    id: &ChannelId,
    target: &UserId,
) -> Result<ChannelView, AppError> {
    let first = first_members();
    for _ in 0..MANAGE_ATTEMPTS {
        let (found, members) = tokio::try_join!(
            managing(ctx, caller, id, target),
            ctx.store.members_by_join(id, &first).err_into::<AppError>()
        )?;
        found
            .channel
            .ensure_can_transfer(found.caller.as_ref(), found.target.as_ref())?;
        let (Some(owner), Some(heir)) = (found.caller, found.target) else {
            return Err(RoleRefused::NoSuchMember.into());
        };
        // The answer is the channel as the write leaves it (the two roles swapped), its
        // names read beside the write.
        let members = members
            .items
            .into_iter()
            .map(|mut member| {
                if member.user_id == owner.user_id {
                    member.role = MemberRole::Admin;
                } else if member.user_id == heir.user_id {
                    member.role = MemberRole::Owner;
                }
                member
            })
            .collect();
        let (managed, shown) = tokio::try_join!(
            ctx.store
                .transfer_ownership(&owner, &heir)
                .err_into::<AppError>(),
            view(ctx, found.channel, members)
        )?;
        match managed {
            Managed::Done => return Ok(shown),
            Managed::Stale => continue,
            Managed::ChannelGone => return Err(NotFound::Channel.into()),
        }
    }
    Err(channel_busy())
}

/// `DELETE /channels/{id}/members/{user_id}`: the owner or an admin removes a member (an
/// admin: members only; never the owner); pushes `member.removed`.
pub async fn remove(
    ctx: &AppContext,
    caller: &Caller,
    id: &ChannelId,
    target: &UserId,
) -> Result<(), AppError> {
    for _ in 0..MANAGE_ATTEMPTS {
        let found = managing(ctx, caller, id, target).await?;
        found
            .channel
            .ensure_can_remove(found.caller.as_ref(), found.target.as_ref())?;
        let (Some(by), Some(member)) = (found.caller, found.target) else {
            return Err(RoleRefused::NoSuchMember.into());
        };
        match ctx
            .store
            .remove_member_by(&by, &member, Timestamp::now())
            .await?
        {
            Managed::Done => return Ok(()),
            Managed::Stale => continue,
            Managed::ChannelGone => return Err(NotFound::Channel.into()),
        }
    }
    Err(channel_busy())
}

/// Deletes a channel (owner only): hidden at once, its items purged by a queued job.
pub async fn delete(ctx: &AppContext, caller: &Caller, id: &ChannelId) -> Result<(), AppError> {
    let Loaded {
        channel,
        membership,
        members,
        ..
    } = load(ctx, caller, id).await?;
    channel.ensure_can_delete(membership.as_ref())?;
    let pair = match channel.kind {
        ChannelKind::Direct => {
            let other = members
                .iter()
                .find(|m| m.user_id != caller.id)
                .map(|m| &m.user_id);
            other.map(|other| PairKey::of(&caller.id, other))
        }
        _ => None,
    };
    match ctx
        .store
        .mark_channel_deleted(&channel, &caller.id, pair.as_ref(), Timestamp::now())
        .await?
    {
        ChannelDeletion::Deleted => {}
        ChannelDeletion::NotOwner => return Err(ChannelDeleteRefused::NotOwner.into()),
        ChannelDeletion::AlreadyGone => return Err(NotFound::Channel.into()),
    }
    Ok(())
}
