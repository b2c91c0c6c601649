//! The verb table: what an action's name says about it.
//!
//! `dashboard_update` ends in the verb `update`, so its type is `change`, it is a write logged
//! before it runs, and its messages read "User is updating dashboard [id=…]". The macro uses this
//! to accept the short form `#[audited(action = "dashboard_update", category = "database")]`.

use crate::ecs::EventType;

/// The verb triple an action's default messages are built from, as in Kibana:
/// `User is {progressive} …` (outcome unknown), `User has {past} …` (success),
/// `Failed attempt to {present} …` (failure).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Verbs {
    /// "update"
    pub present: &'static str,
    /// "updating"
    pub progressive: &'static str,
    /// "updated"
    pub past: &'static str,
}

impl Verbs {
    /// A verb triple, e.g. `Verbs::new("export", "exporting", "exported")`.
    pub const fn new(present: &'static str, progressive: &'static str, past: &'static str) -> Verbs {
        Verbs { present, progressive, past }
    }
}

/// What a verb in an action's name implies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerbInfo {
    /// The word as it appears in action names.
    pub word: &'static str,
    /// The ECS type an action with this verb has.
    pub event_type: EventType,
    /// How messages conjugate it.
    pub verbs: Verbs,
}

macro_rules! verb_table {
    ($($word:literal => $ty:ident ($p:literal, $g:literal, $d:literal),)*) => {
        /// Every verb the inference knows.
        pub const VERB_TABLE: &[VerbInfo] = &[
            $(VerbInfo { word: $word, event_type: EventType::$ty, verbs: Verbs::new($p, $g, $d) },)*
        ];
    };
}

verb_table! {
    "create" => Creation("create", "creating", "created"),
    "add" => Creation("add", "adding", "added"),
    "insert" => Creation("insert", "inserting", "inserted"),
    "import" => Creation("import", "importing", "imported"),
    "upload" => Creation("upload", "uploading", "uploaded"),
    "register" => Creation("register", "registering", "registered"),
    "copy" => Creation("copy", "copying", "copied"),
    "clone" => Creation("clone", "cloning", "cloned"),
    "update" => Change("update", "updating", "updated"),
    "edit" => Change("edit", "editing", "edited"),
    "modify" => Change("modify", "modifying", "modified"),
    "patch" => Change("patch", "patching", "patched"),
    "change" => Change("change", "changing", "changed"),
    "set" => Change("set", "setting", "set"),
    "rename" => Change("rename", "renaming", "renamed"),
    "move" => Change("move", "moving", "moved"),
    "enable" => Change("enable", "enabling", "enabled"),
    "disable" => Change("disable", "disabling", "disabled"),
    "share" => Change("share", "sharing", "shared"),
    "unshare" => Change("unshare", "unsharing", "unshared"),
    "assign" => Change("assign", "assigning", "assigned"),
    "unassign" => Change("unassign", "unassigning", "unassigned"),
    "grant" => Change("grant", "granting", "granted"),
    "revoke" => Change("revoke", "revoking", "revoked"),
    "archive" => Change("archive", "archiving", "archived"),
    "restore" => Change("restore", "restoring", "restored"),
    "publish" => Change("publish", "publishing", "published"),
    "unpublish" => Change("unpublish", "unpublishing", "unpublished"),
    "approve" => Change("approve", "approving", "approved"),
    "reject" => Change("reject", "rejecting", "rejected"),
    "reset" => Change("reset", "resetting", "reset"),
    "lock" => Change("lock", "locking", "locked"),
    "unlock" => Change("unlock", "unlocking", "unlocked"),
    "mute" => Change("mute", "muting", "muted"),
    "unmute" => Change("unmute", "unmuting", "unmuted"),
    "snooze" => Change("snooze", "snoozing", "snoozed"),
    "acknowledge" => Change("acknowledge", "acknowledging", "acknowledged"),
    "push" => Change("push", "pushing", "pushed"),
    "transfer" => Change("transfer", "transferring", "transferred"),
    "delete" => Deletion("delete", "deleting", "deleted"),
    "remove" => Deletion("remove", "removing", "removed"),
    "purge" => Deletion("purge", "purging", "purged"),
    "destroy" => Deletion("destroy", "destroying", "destroyed"),
    "get" => Access("access", "accessing", "accessed"),
    "find" => Access("access", "accessing", "accessed"),
    "list" => Access("access", "accessing", "accessed"),
    "query" => Access("access", "accessing", "accessed"),
    "search" => Access("search", "searching", "searched"),
    "read" => Access("read", "reading", "read"),
    "view" => Access("view", "viewing", "viewed"),
    "export" => Access("export", "exporting", "exported"),
    "download" => Access("download", "downloading", "downloaded"),
    "resolve" => Access("resolve", "resolving", "resolved"),
}

/// Finds the verb of an action name: its last underscore-separated word that is in the table
/// (`dashboard_bulk_delete` → `delete`). `None` when no word is a known verb.
pub fn infer(action: &str) -> Option<VerbInfo> {
    action.rsplit('_').find_map(|word| VERB_TABLE.iter().find(|info| info.word == word)).copied()
}

/// What an action acts on, from its name: the words before its verb, in the plural, without
/// "bulk" (`dashboard_bulk_delete` → "dashboards"). Falls back to "resources".
pub fn object_of(action: &str) -> String {
    let words: Vec<&str> = action.split('_').collect();
    let verb_at = words.iter().rposition(|w| VERB_TABLE.iter().any(|info| info.word == *w));
    let Some(verb_at) = verb_at else {
        return "resources".to_owned();
    };
    let noun: Vec<&str> = words[..verb_at].iter().copied().filter(|w| *w != "bulk").collect();
    if noun.is_empty() {
        return "resources".to_owned();
    }
    plural(&noun.join(" "))
}

fn plural(noun: &str) -> String {
    if noun.ends_with('s') {
        noun.to_owned()
    } else if let Some(stem) = noun.strip_suffix('y').filter(|s| !s.ends_with(['a', 'e', 'o', 'u'])) {
        format!("{stem}ies")
    } else {
        format!("{noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_type_and_verbs_from_the_last_verb() {
        let found = infer("dashboard_bulk_delete").unwrap();
        assert_eq!(found.event_type, EventType::Deletion);
        assert_eq!(found.verbs.progressive, "deleting");
        assert_eq!(infer("report_export_pdf").unwrap().word, "export");
        assert_eq!(infer("widget_frobnicate"), None);
    }

    #[test]
    fn derives_plural_objects() {
        assert_eq!(object_of("saved_object_find"), "saved objects");
        assert_eq!(object_of("dashboard_bulk_delete"), "dashboards");
        assert_eq!(object_of("policy_update"), "policies");
        assert_eq!(object_of("widget_frobnicate"), "resources");
    }

    #[test]
    fn table_has_no_duplicate_words() {
        for (i, a) in VERB_TABLE.iter().enumerate() {
            assert!(VERB_TABLE[i + 1..].iter().all(|b| b.word != a.word), "{} twice", a.word);
        }
    }
}
