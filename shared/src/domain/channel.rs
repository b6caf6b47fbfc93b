//! Channels and membership: what a channel may contain and who may do what to it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    AccessRefused, AddRefused, ChannelDeleteRefused, FieldErrors, Invalid, JoinRefused,
    LeaveRefused, NotFound, RoleRefused, SettingsRefused,
};
use super::{ChannelId, Timestamp, UserId, UserName};

/// How a member leaves a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leaving {
    /// The membership ends (a group).
    Remove,
    /// The channel leaves the member's list until its next message (a direct channel).
    Hide,
    /// The owner leaves: ownership passes to its successor in the same write, or the channel
    /// is deleted when nobody is left to take it.
    HandOver,
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
    Admin,
    Member,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    /// The owner and admins manage a channel: its settings, its members, its reports.
    pub fn manages(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }

    /// A role the owner may give (`owner` passes only by a transfer).
    pub fn parse_assignable(raw: &str) -> Result<Self, &'static str> {
        match raw {
            "admin" => Ok(Self::Admin),
            "member" => Ok(Self::Member),
            _ => Err("must be admin or member (ownership passes with POST /channels/{id}/owner)"),
        }
    }
}

/// A channel's description: trimmed, at most 500 characters (line breaks allowed, other
/// control characters not); empty by default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChannelDescription(String);

impl ChannelDescription {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let text = raw.trim();
        if text.chars().count() > Self::MAX_CHARS {
            return Err("must be at most 500 characters");
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err("must not contain control characters other than line breaks and tabs");
        }
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The longest `slow_mode_seconds` may be.
pub const MAX_SLOW_MODE_SECONDS: u32 = 3600;

/// A validated `PATCH /channels/{id}`: only the fields given change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelSettings {
    pub name: Option<ChannelName>,
    pub description: Option<ChannelDescription>,
    pub private: Option<bool>,
    pub slow_mode_seconds: Option<u32>,
}

impl ChannelSettings {
    pub fn parse(
        name: Option<&str>,
        description: Option<&str>,
        private: Option<bool>,
        slow_mode_seconds: Option<i64>,
    ) -> Result<Self, Invalid> {
        let mut errors = FieldErrors::new();
        let name = name
            .map(ChannelName::parse)
            .transpose()
            .map_err(|e| errors.insert("name".into(), e.into()))
            .ok()
            .flatten();
        let description = description
            .map(ChannelDescription::parse)
            .transpose()
            .map_err(|e| errors.insert("description".into(), e.into()))
            .ok()
            .flatten();
        let slow_mode_seconds = match slow_mode_seconds {
            Some(seconds) => match u32::try_from(seconds) {
                Ok(seconds) if seconds <= MAX_SLOW_MODE_SECONDS => Some(seconds),
                _ => {
                    errors.insert(
                        "slow_mode_seconds".into(),
                        format!("must be 0 to {MAX_SLOW_MODE_SECONDS}"),
                    );
                    None
                }
            },
            None => None,
        };
        if !errors.is_empty() {
            return Err(Invalid::Fields(errors));
        }
        Ok(Self {
            name,
            description,
            private,
            slow_mode_seconds,
        })
    }

    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// The channel as these settings leave it.
    pub fn applied_to(&self, mut channel: Channel) -> Channel {
        if let Some(name) = &self.name {
            channel.name = name.clone();
        }
        if let Some(description) = &self.description {
            channel.description = description.clone();
        }
        if let Some(private) = self.private {
            channel.private = private;
        }
        if let Some(seconds) = self.slow_mode_seconds {
            channel.slow_mode_seconds = seconds;
        }
        channel
    }
}

/// A channel's own record (without its members).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ChannelRecord)]
pub struct Channel {
    pub id: ChannelId,
    pub name: ChannelName,
    /// 0–500 characters (`""` when none was given)
    #[schema(value_type = String, max_length = 500)]
    pub description: ChannelDescription,
    pub kind: ChannelKind,
    pub private: bool,
    pub created_by: UserId,
    pub created_at: Timestamp,
    pub member_count: u32,
    /// A member (not the owner or an admin) sends at most one message per this many
    /// seconds (0: no limit)
    #[schema(maximum = 3600)]
    pub slow_mode_seconds: u32,
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

/// A channel with its members (the first 100 by join time), as `GET /channels/{id}` shows it
/// and `channel.created` / `channel.updated` carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Channel)]
pub struct ChannelView {
    #[serde(flatten)]
    pub channel: Channel,
    pub members: Vec<Member>,
}

/// Members named at creation are written in one transaction (100 actions at most: the channel,
/// the creator, and for a direct channel the pair claim); the rest join later.
pub const MAX_INITIAL_MEMBERS: usize = 97;

/// A validated `POST /channels`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewChannel {
    pub name: ChannelName,
    pub description: ChannelDescription,
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
        description: Option<&str>,
        kind: Option<ChannelKind>,
        member_ids: &[String],
        private: Option<bool>,
    ) -> Result<Self, Invalid> {
        let mut errors = FieldErrors::new();
        let name = ChannelName::parse(name).map_err(|e| errors.insert("name".into(), e.into()));
        let description = ChannelDescription::parse(description.unwrap_or_default())
            .map_err(|e| errors.insert("description".into(), e.into()))
            .unwrap_or_default();
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
                description,
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

    /// Leaving needs membership. What it means: a direct channel is only hidden from the
    /// leaver's list (both stay members, so the next message brings it back); any other is
    /// left for good, and its owner hands it over on the way out (a channel is never
    /// ownerless).
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
            return Ok(Leaving::HandOver);
        }
        Ok(Leaving::Remove)
    }

    /// `PATCH /channels/{id}`: the owner and admins of a group; of an assistant channel its
    /// owner may rename it and describe it. A direct channel has no settings.
    pub fn ensure_can_change(
        &self,
        membership: Option<&Membership>,
        settings: &ChannelSettings,
    ) -> Result<(), SettingsRefused> {
        if !self.is_visible(membership) {
            return Err(SettingsRefused::NotFound);
        }
        let membership = membership.ok_or(SettingsRefused::NotMember)?;
        if self.kind == ChannelKind::Direct {
            return Err(SettingsRefused::FixedSettings(self.kind));
        }
        if !membership.role.manages() {
            return Err(SettingsRefused::NotManager);
        }
        if self.kind != ChannelKind::Group {
            let mut errors = FieldErrors::new();
            if settings.private.is_some() {
                errors.insert(
                    "private".into(),
                    format!("a {} channel is always private", self.kind.as_str()),
                );
            }
            if settings.slow_mode_seconds.is_some() {
                errors.insert(
                    "slow_mode_seconds".into(),
                    "only groups have a slow mode".into(),
                );
            }
            if !errors.is_empty() {
                return Err(SettingsRefused::Invalid(Invalid::Fields(errors)));
            }
        }
        Ok(())
    }

    /// The caller's membership of a group whose members are managed (roles, removals,
    /// transfers).
    fn managing_member<'a>(
        &self,
        caller: Option<&'a Membership>,
    ) -> Result<&'a Membership, RoleRefused> {
        if !self.is_visible(caller) {
            return Err(RoleRefused::NotFound);
        }
        let caller = caller.ok_or(RoleRefused::NotMember)?;
        if self.kind != ChannelKind::Group {
            return Err(RoleRefused::FixedMembers(self.kind));
        }
        Ok(caller)
    }

    /// The target of a role change, a removal or a transfer: a member other than the caller.
    fn other_member<'a>(
        caller: &Membership,
        target: Option<&'a Membership>,
    ) -> Result<&'a Membership, RoleRefused> {
        let target = target.ok_or(RoleRefused::NoSuchMember)?;
        if target.user_id == caller.user_id {
            return Err(RoleRefused::Yourself);
        }
        Ok(target)
    }

    /// `PATCH /channels/{id}/members/{user_id}`: the owner gives a member or an admin the
    /// role `admin` or `member`.
    pub fn ensure_can_set_role(
        &self,
        caller: Option<&Membership>,
        target: Option<&Membership>,
    ) -> Result<(), RoleRefused> {
        let caller = self.managing_member(caller)?;
        if caller.role != MemberRole::Owner {
            return Err(RoleRefused::OwnerOnly);
        }
        Self::other_member(caller, target)?;
        Ok(())
    }

    /// `POST /channels/{id}/owner`: the owner hands the channel to another member.
    pub fn ensure_can_transfer(
        &self,
        caller: Option<&Membership>,
        target: Option<&Membership>,
    ) -> Result<(), RoleRefused> {
        self.ensure_can_set_role(caller, target)
    }

    /// `DELETE /channels/{id}/members/{user_id}`: the owner removes anyone but itself; an
    /// admin removes members only.
    pub fn ensure_can_remove(
        &self,
        caller: Option<&Membership>,
        target: Option<&Membership>,
    ) -> Result<(), RoleRefused> {
        let caller = self.managing_member(caller)?;
        if !caller.role.manages() {
            return Err(RoleRefused::ManagersOnly);
        }
        let target = Self::other_member(caller, target)?;
        match (caller.role, target.role) {
            (_, MemberRole::Owner) => Err(RoleRefused::TargetIsOwner),
            (MemberRole::Admin, MemberRole::Admin) => Err(RoleRefused::AdminOverAdmin),
            _ => Ok(()),
        }
    }

    /// Who may list the channel's reports: its owner and admins.
    pub fn ensure_can_moderate(&self, membership: &Membership) -> Result<(), RoleRefused> {
        if membership.role.manages() {
            Ok(())
        } else {
            Err(RoleRefused::ManagersOnly)
        }
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

    /// Whether `membership` must wait before sending again: slow mode holds members, not the
    /// owner or admins. The seconds between two sends, when it does.
    pub fn slow_mode_for(&self, membership: &Membership) -> Option<u32> {
        (self.slow_mode_seconds > 0 && !membership.role.manages()).then_some(self.slow_mode_seconds)
    }

    /// A group holds at most `max_members` (`MAX_GROUP_MEMBERS`), its owner included.
    pub fn is_full(&self, max_members: u32) -> bool {
        self.kind == ChannelKind::Group && self.member_count >= max_members
    }
}

/// Who takes over a channel its owner leaves: the longest-standing admin, else the
/// longest-standing member; never the leaving owner or the assistant. `None`: nobody is left.
pub fn successor<'a>(
    owner: &UserId,
    candidates: impl IntoIterator<Item = &'a Membership>,
) -> Option<&'a Membership> {
    candidates
        .into_iter()
        .filter(|m| &m.user_id != owner && m.user_id.as_str() != UserId::ASSISTANT)
        .min_by(|a, b| {
            let rank = |m: &Membership| u8::from(m.role != MemberRole::Admin);
            (rank(a), a.joined_at, &a.user_id).cmp(&(rank(b), b.joined_at, &b.user_id))
        })
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
        let ok = NewChannel::parse(&me, " Team ", None, None, &ids(3), None).unwrap();
        assert_eq!(
            (ok.kind, ok.private, ok.member_ids.len()),
            (ChannelKind::Group, true, 3)
        );
        assert_eq!(ok.name.as_str(), "Team");

        let mut bad = ids(1);
        bad.push(bad[0].clone());
        bad.push("nope".into());
        bad.push(me.to_string());
        let fields = details(NewChannel::parse(&me, "x", None, None, &bad, None).unwrap_err());
        assert_eq!(fields["unknown_member_ids"], "nope");
        assert_eq!(fields["duplicate_member_ids"], format!("{},{}", bad[0], me));
    }

    #[test]
    fn direct_and_assistant_channels_have_fixed_members() {
        let me = UserId::generate();
        assert!(
            NewChannel::parse(&me, "dm", None, Some(ChannelKind::Direct), &ids(1), None).is_ok()
        );
        for n in [0, 2] {
            let err = NewChannel::parse(&me, "dm", None, Some(ChannelKind::Direct), &ids(n), None)
                .unwrap_err();
            assert!(details(err).contains_key("member_ids"), "{n}");
        }
        assert!(
            NewChannel::parse(&me, "ai", None, Some(ChannelKind::Assistant), &[], None).is_ok()
        );
        let err = NewChannel::parse(&me, "ai", None, Some(ChannelKind::Assistant), &ids(1), None)
            .unwrap_err();
        assert!(details(err).contains_key("member_ids"));
        let err = NewChannel::parse(
            &me,
            "dm",
            None,
            Some(ChannelKind::Direct),
            &ids(1),
            Some(false),
        )
        .unwrap_err();
        assert!(details(err).contains_key("private"));
    }

    #[test]
    fn initial_members_fit_one_transaction() {
        let me = UserId::generate();
        assert!(NewChannel::parse(&me, "big", None, None, &ids(MAX_INITIAL_MEMBERS), None).is_ok());
        assert!(
            NewChannel::parse(&me, "big", None, None, &ids(MAX_INITIAL_MEMBERS + 1), None).is_err()
        );
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
            description: ChannelDescription::default(),
            slow_mode_seconds: 0,
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
            Ok(Leaving::HandOver)
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

    fn in_channel(channel: &Channel, role: MemberRole, joined_at: Timestamp) -> Membership {
        Membership {
            channel_id: channel.id.clone(),
            user_id: UserId::generate(),
            role,
            joined_at,
        }
    }

    #[test]
    fn owners_and_admins_manage_members_within_their_rank() {
        let group = channel(true, ChannelKind::Group);
        let now = Timestamp::now();
        let owner = in_channel(&group, MemberRole::Owner, now);
        let admin = in_channel(&group, MemberRole::Admin, now);
        let other_admin = in_channel(&group, MemberRole::Admin, now);
        let plain = in_channel(&group, MemberRole::Member, now);

        assert_eq!(
            group.ensure_can_set_role(Some(&owner), Some(&plain)),
            Ok(())
        );
        assert_eq!(
            group.ensure_can_set_role(Some(&owner), Some(&admin)),
            Ok(())
        );
        assert_eq!(
            group.ensure_can_set_role(Some(&admin), Some(&plain)),
            Err(RoleRefused::OwnerOnly)
        );
        assert_eq!(
            group.ensure_can_set_role(Some(&owner), Some(&owner)),
            Err(RoleRefused::Yourself)
        );
        assert_eq!(
            group.ensure_can_transfer(Some(&owner), None),
            Err(RoleRefused::NoSuchMember)
        );

        assert_eq!(group.ensure_can_remove(Some(&owner), Some(&admin)), Ok(()));
        assert_eq!(group.ensure_can_remove(Some(&admin), Some(&plain)), Ok(()));
        assert_eq!(
            group.ensure_can_remove(Some(&admin), Some(&other_admin)),
            Err(RoleRefused::AdminOverAdmin)
        );
        assert_eq!(
            group.ensure_can_remove(Some(&admin), Some(&owner)),
            Err(RoleRefused::TargetIsOwner)
        );
        assert_eq!(
            group.ensure_can_remove(Some(&plain), Some(&admin)),
            Err(RoleRefused::ManagersOnly)
        );
        assert_eq!(
            group.ensure_can_remove(None, Some(&plain)),
            Err(RoleRefused::NotFound),
            "a private group does not exist for outsiders"
        );
        let direct = channel(true, ChannelKind::Direct);
        assert_eq!(
            direct.ensure_can_remove(Some(&in_channel(&direct, MemberRole::Owner, now)), None),
            Err(RoleRefused::FixedMembers(ChannelKind::Direct))
        );
    }

    #[test]
    fn settings_are_for_managers_and_fit_the_kind() {
        let group = channel(false, ChannelKind::Group);
        let now = Timestamp::now();
        let rename =
            ChannelSettings::parse(Some(" New "), Some("About\nus"), None, Some(30)).unwrap();
        assert_eq!(rename.name.as_ref().map(ChannelName::as_str), Some("New"));
        let admin = in_channel(&group, MemberRole::Admin, now);
        let plain = in_channel(&group, MemberRole::Member, now);
        assert_eq!(group.ensure_can_change(Some(&admin), &rename), Ok(()));
        assert_eq!(
            group.ensure_can_change(Some(&plain), &rename),
            Err(SettingsRefused::NotManager)
        );
        let assistant = channel(true, ChannelKind::Assistant);
        let owner = in_channel(&assistant, MemberRole::Owner, now);
        assert!(matches!(
            assistant.ensure_can_change(Some(&owner), &rename),
            Err(SettingsRefused::Invalid(_))
        ));
        let direct = channel(true, ChannelKind::Direct);
        assert_eq!(
            direct.ensure_can_change(Some(&in_channel(&direct, MemberRole::Owner, now)), &rename),
            Err(SettingsRefused::FixedSettings(ChannelKind::Direct))
        );
        for bad in [-1, 3601, i64::MAX] {
            let err = ChannelSettings::parse(None, None, None, Some(bad)).unwrap_err();
            assert!(details(err).contains_key("slow_mode_seconds"), "{bad}");
        }
        let long = "x".repeat(501);
        let err = ChannelSettings::parse(Some(""), Some(&long), None, None).unwrap_err();
        let fields = details(err);
        assert!(
            fields.contains_key("name") && fields.contains_key("description"),
            "{fields:?}"
        );
        assert!(ChannelSettings::parse(None, None, None, None)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn slow_mode_holds_members_only() {
        let mut group = channel(false, ChannelKind::Group);
        let now = Timestamp::now();
        let plain = in_channel(&group, MemberRole::Member, now);
        assert_eq!(group.slow_mode_for(&plain), None);
        group.slow_mode_seconds = 30;
        assert_eq!(group.slow_mode_for(&plain), Some(30));
        assert_eq!(
            group.slow_mode_for(&in_channel(&group, MemberRole::Admin, now)),
            None
        );
    }

    #[test]
    fn the_longest_standing_admin_succeeds_else_the_longest_standing_member() {
        let group = channel(true, ChannelKind::Group);
        let at =
            |seconds: i64| Timestamp::from_unix_millis((1_700_000_000 + seconds) * 1000).unwrap();
        let owner = in_channel(&group, MemberRole::Owner, at(0));
        let early_member = in_channel(&group, MemberRole::Member, at(1));
        let late_admin = in_channel(&group, MemberRole::Admin, at(5));
        let later_admin = in_channel(&group, MemberRole::Admin, at(9));
        let all = [&owner, &later_admin, &early_member, &late_admin];
        assert_eq!(
            successor(&owner.user_id, all.iter().copied()),
            Some(&late_admin)
        );
        assert_eq!(
            successor(&owner.user_id, [&owner, &early_member]),
            Some(&early_member)
        );
        assert_eq!(successor(&owner.user_id, [&owner]), None);
    }
}
