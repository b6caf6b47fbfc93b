//! Channels and membership: what a channel may contain and who may do what to it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    AccessRefused, AddRefused, ChannelDeleteRefused, FieldErrors, Invalid, JoinRefused,
    LeaveRefused, NotFound,
};
use super::{ChannelId, Timestamp, UserId, UserName};

/// How a member leaves a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leaving {
    /// The membership ends (a group).
    Remove,
    /// The channel leaves the member's list until its next message (a direct channel).
    Hide,
}

/// A channel name: trimmed, 1 to 80 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChannelName(String);

impl ChannelName {
    pub const MAX_CHARS: usize = 80;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let name = raw.trim();
        let chars = name.chars().count();
        if chars == 0 {
            return Err("must not be empty");
        }
        if chars > Self::MAX_CHARS {
            return Err("must be at most 80 characters");
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Group,
    Direct,
    Assistant,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Group => "group",
            Self::Direct => "direct",
            Self::Assistant => "assistant",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    Owner,
    Member,
}

/// A channel's own record (without its members).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ChannelSummary)]
pub struct Channel {
    pub id: ChannelId,
    pub name: ChannelName,
    pub kind: ChannelKind,
    pub private: bool,
    pub created_by: UserId,
    pub created_at: Timestamp,
    #[schema(maximum = 500)]
    pub member_count: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub channel_id: ChannelId,
    pub user_id: UserId,
    pub role: MemberRole,
    pub joined_at: Timestamp,
}

/// A member as shown in a channel: `{user_id, name, role, joined_at}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Member {
    pub user_id: UserId,
    pub name: UserName,
    pub role: MemberRole,
    pub joined_at: Timestamp,
}

/// Members named at creation are written in one transaction (100 actions at most: the channel,
/// the creator, and for a direct channel the pair claim); the rest join later.
pub const MAX_INITIAL_MEMBERS: usize = 97;

/// A validated `POST /channels`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewChannel {
    pub name: ChannelName,
    pub kind: ChannelKind,
    pub private: bool,
    /// The other members (never the creator).
    pub member_ids: Vec<UserId>,
}

impl NewChannel {
    /// Applies the creation rules. Unknown (unparseable) and duplicate ids are listed in
    /// `details`, as are rule violations of the kind.
    pub fn parse(
        creator: &UserId,
        name: &str,
        kind: Option<ChannelKind>,
        member_ids: &[String],
        private: Option<bool>,
    ) -> Result<Self, Invalid> {
        let mut errors = FieldErrors::new();
        let name = ChannelName::parse(name).map_err(|e| errors.insert("name".into(), e.into()));
        let kind = kind.unwrap_or(ChannelKind::Group);

        let mut ids = Vec::new();
        let mut unknown = Vec::new();
        let mut duplicate = Vec::new();
        let mut seen = BTreeMap::new();
        for raw in member_ids {
            match UserId::parse(raw) {
                Some(id) if &id == creator || id.as_str() == UserId::ASSISTANT => {
                    duplicate.push(raw.clone())
                }
                Some(id) => {
                    if seen.insert(id.clone(), ()).is_some() {
                        duplicate.push(raw.clone());
                    } else {
                        ids.push(id);
                    }
                }
                None => unknown.push(raw.clone()),
            }
        }
        if !unknown.is_empty() {
            errors.insert("unknown_member_ids".into(), unknown.join(","));
        }
        if !duplicate.is_empty() {
            errors.insert("duplicate_member_ids".into(), duplicate.join(","));
        }
        match kind {
            ChannelKind::Direct if ids.len() + unknown.len() != 1 => {
                errors.insert(
                    "member_ids".into(),
                    "a direct channel has exactly one other member".into(),
                );
            }
            ChannelKind::Assistant if !member_ids.is_empty() => {
                errors.insert(
                    "member_ids".into(),
                    "an assistant channel has no other members".into(),
                );
            }
            ChannelKind::Group if ids.len() > MAX_INITIAL_MEMBERS => {
                errors.insert(
                    "member_ids".into(),
                    format!("at most {MAX_INITIAL_MEMBERS} members at creation; add more later"),
                );
            }
            _ => {}
        }
        if kind != ChannelKind::Group && private == Some(false) {
            errors.insert(
                "private".into(),
                format!("a {} channel is always private", kind.as_str()),
            );
        }
        match name {
            Ok(name) if errors.is_empty() => Ok(Self {
                name,
                kind,
                private: private.unwrap_or(true),
                member_ids: ids,
            }),
            _ => Err(Invalid::Fields(errors)),
        }
    }
}

impl Channel {
    /// An id that can name no channel is answered as an unknown one.
    pub fn parse_id(raw: &str) -> Result<ChannelId, NotFound> {
        ChannelId::parse(raw).ok_or(NotFound::Channel)
    }

    /// Whether `membership` may see the channel at all: public channels are visible to every
    /// user; a private one to its members only (to others it does not exist).
    pub fn is_visible(&self, membership: Option<&Membership>) -> bool {
        !self.private || membership.is_some()
    }

    pub fn ensure_visible(&self, membership: Option<&Membership>) -> Result<(), NotFound> {
        if self.is_visible(membership) {
            Ok(())
        } else {
            Err(NotFound::Channel)
        }
    }

    /// Messages are for members: an outsider of a private channel gets 404 (it does not
    /// exist for them), of a public one 403.
    pub fn ensure_member<'a>(
        &self,
        membership: Option<&'a Membership>,
    ) -> Result<&'a Membership, AccessRefused> {
        if !self.is_visible(membership) {
            return Err(AccessRefused::NotFound);
        }
        membership.ok_or(AccessRefused::NotMember)
    }

    /// Adding someone needs a member of a group channel.
    pub fn ensure_can_add(&self, membership: Option<&Membership>) -> Result<(), AddRefused> {
        if !self.is_visible(membership) {
            return Err(AddRefused::NotFound);
        }
        if membership.is_none() {
            return Err(AddRefused::NotMember);
        }
        if self.kind != ChannelKind::Group {
            return Err(AddRefused::FixedMembers(self.kind));
        }
        Ok(())
    }

    /// Joining by yourself needs a public channel you are not yet in.
    pub fn ensure_can_join(&self, membership: Option<&Membership>) -> Result<(), JoinRefused> {
        if membership.is_some() {
            return Err(JoinRefused::AlreadyMember);
        }
        if self.private {
            return Err(JoinRefused::Private);
        }
        Ok(())
    }

    /// Leaving needs membership; a direct channel cannot be left (delete it instead), and the
    /// owner cannot leave a channel that would then have no owner.
    /// What leaving means here: a direct channel is only hidden from the leaver's list (both
    /// stay members, so the next message brings it back); any other is left for good.
    pub fn ensure_can_leave(
        &self,
        membership: Option<&Membership>,
    ) -> Result<Leaving, LeaveRefused> {
        if !self.is_visible(membership) {
            return Err(LeaveRefused::NotFound);
        }
        let Some(membership) = membership else {
            return Err(LeaveRefused::NotMember);
        };
        if self.kind == ChannelKind::Direct {
            return Ok(Leaving::Hide);
        }
        if membership.role == MemberRole::Owner {
            return Err(LeaveRefused::Owner);
        }
        Ok(Leaving::Remove)
    }

    pub fn ensure_can_delete(
        &self,
        membership: Option<&Membership>,
    ) -> Result<(), ChannelDeleteRefused> {
        if !self.is_visible(membership) {
            return Err(ChannelDeleteRefused::NotFound);
        }
        match membership {
            Some(m) if m.role == MemberRole::Owner || self.kind == ChannelKind::Direct => Ok(()),
            _ => Err(ChannelDeleteRefused::NotOwner),
        }
    }

    /// Who may delete it: the owner, or for a direct channel either of the two.
    pub fn deletable_by_any_member(&self) -> bool {
        self.kind == ChannelKind::Direct
    }

    /// A group holds at most `max_members` (`MAX_GROUP_MEMBERS`), its owner included.
    pub fn is_full(&self, max_members: u32) -> bool {
        self.kind == ChannelKind::Group && self.member_count >= max_members
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|_| UserId::generate().to_string()).collect()
    }

    fn details(err: Invalid) -> FieldErrors {
        match err {
            Invalid::Fields(fields) => fields,
            other => panic!("expected validation_failed, got {other:?}"),
        }
    }

    #[test]
    fn groups_default_to_private_and_list_bad_member_ids() {
        let me = UserId::generate();
        let ok = NewChannel::parse(&me, " Team ", None, &ids(3), None).unwrap();
        assert_eq!(
            (ok.kind, ok.private, ok.member_ids.len()),
            (ChannelKind::Group, true, 3)
        );
        assert_eq!(ok.name.as_str(), "Team");

        let mut bad = ids(1);
        bad.push(bad[0].clone());
        bad.push("nope".into());
        bad.push(me.to_string());
        let fields = details(NewChannel::parse(&me, "x", None, &bad, None).unwrap_err());
        assert_eq!(fields["unknown_member_ids"], "nope");
        assert_eq!(fields["duplicate_member_ids"], format!("{},{}", bad[0], me));
    }

    #[test]
    fn direct_and_assistant_channels_have_fixed_members() {
        let me = UserId::generate();
        assert!(NewChannel::parse(&me, "dm", Some(ChannelKind::Direct), &ids(1), None).is_ok());
        for n in [0, 2] {
            let err =
                NewChannel::parse(&me, "dm", Some(ChannelKind::Direct), &ids(n), None).unwrap_err();
            assert!(details(err).contains_key("member_ids"), "{n}");
        }
        assert!(NewChannel::parse(&me, "ai", Some(ChannelKind::Assistant), &[], None).is_ok());
        let err =
            NewChannel::parse(&me, "ai", Some(ChannelKind::Assistant), &ids(1), None).unwrap_err();
        assert!(details(err).contains_key("member_ids"));
        let err = NewChannel::parse(&me, "dm", Some(ChannelKind::Direct), &ids(1), Some(false))
            .unwrap_err();
        assert!(details(err).contains_key("private"));
    }

    #[test]
    fn initial_members_fit_one_transaction() {
        let me = UserId::generate();
        assert!(NewChannel::parse(&me, "big", None, &ids(MAX_INITIAL_MEMBERS), None).is_ok());
        assert!(NewChannel::parse(&me, "big", None, &ids(MAX_INITIAL_MEMBERS + 1), None).is_err());
    }

    fn channel(private: bool, kind: ChannelKind) -> Channel {
        Channel {
            id: ChannelId::generate(),
            name: ChannelName::parse("c").unwrap(),
            kind,
            private,
            created_by: UserId::generate(),
            created_at: Timestamp::now(),
            member_count: 1,
        }
    }

    fn member(role: MemberRole) -> Membership {
        Membership {
            channel_id: ChannelId::generate(),
            user_id: UserId::generate(),
            role,
            joined_at: Timestamp::now(),
        }
    }

    #[test]
    fn outsiders_cannot_learn_of_private_channels() {
        let private = channel(true, ChannelKind::Group);
        assert_eq!(private.ensure_visible(None), Err(NotFound::Channel));
        assert_eq!(private.ensure_can_add(None), Err(AddRefused::NotFound));
        assert_eq!(
            private.ensure_can_delete(None),
            Err(ChannelDeleteRefused::NotFound)
        );
        assert_eq!(private.ensure_can_join(None), Err(JoinRefused::Private));
        assert_eq!(private.ensure_member(None), Err(AccessRefused::NotFound));
        let public = channel(false, ChannelKind::Group);
        assert!(public.ensure_visible(None).is_ok());
        assert_eq!(public.ensure_can_add(None), Err(AddRefused::NotMember));
        assert_eq!(public.ensure_member(None), Err(AccessRefused::NotMember));
        assert!(public.ensure_can_join(None).is_ok());
    }

    #[test]
    fn leaving_rules() {
        let group = channel(false, ChannelKind::Group);
        assert_eq!(group.ensure_can_leave(None), Err(LeaveRefused::NotMember));
        assert!(group
            .ensure_can_leave(Some(&member(MemberRole::Member)))
            .is_ok());
        assert_eq!(
            group.ensure_can_leave(Some(&member(MemberRole::Owner))),
            Err(LeaveRefused::Owner)
        );
        assert_eq!(
            group.ensure_can_leave(Some(&member(MemberRole::Member))),
            Ok(Leaving::Remove)
        );
        let direct = channel(true, ChannelKind::Direct);
        for role in [MemberRole::Member, MemberRole::Owner] {
            assert_eq!(
                direct.ensure_can_leave(Some(&member(role))),
                Ok(Leaving::Hide)
            );
            assert!(direct.ensure_can_delete(Some(&member(role))).is_ok());
        }
        assert_eq!(direct.ensure_can_leave(None), Err(LeaveRefused::NotFound));
        assert_eq!(
            channel(true, ChannelKind::Group).ensure_can_leave(None),
            Err(LeaveRefused::NotFound)
        );
    }

    #[test]
    fn members_and_owners() {
        let group = channel(true, ChannelKind::Group);
        assert!(group
            .ensure_can_add(Some(&member(MemberRole::Member)))
            .is_ok());
        assert_eq!(
            group.ensure_can_join(Some(&member(MemberRole::Member))),
            Err(JoinRefused::AlreadyMember)
        );
        assert_eq!(
            group.ensure_can_delete(Some(&member(MemberRole::Member))),
            Err(ChannelDeleteRefused::NotOwner)
        );
        assert!(group
            .ensure_can_delete(Some(&member(MemberRole::Owner)))
            .is_ok());
        let direct = channel(true, ChannelKind::Direct);
        assert_eq!(
            direct.ensure_can_add(Some(&member(MemberRole::Owner))),
            Err(AddRefused::FixedMembers(ChannelKind::Direct))
        );
    }
}
