//! ECS categorization values (`event.category`, `event.type`, `event.outcome`), as ECS 9.4.0 allows them.
//!
//! The lists are tested against `data/ecs_event_allowed.json`, extracted from ECS's `schemas/event.yml`.

use crate::keyword::keyword_enum;

/// The ECS version the emitted lines conform to (`ecs.version`).
pub const ECS_VERSION: &str = "9.4.0";

keyword_enum! {
    /// `event.category`: the second level of ECS's categorization hierarchy.
    pub enum Category: "category", "an ECS event category" {
        Api = "api",
        Authentication = "authentication",
        Configuration = "configuration",
        Database = "database",
        Driver = "driver",
        Email = "email",
        File = "file",
        Host = "host",
        Iam = "iam",
        IntrusionDetection = "intrusion_detection",
        Library = "library",
        Malware = "malware",
        Network = "network",
        Package = "package",
        Process = "process",
        Registry = "registry",
        Session = "session",
        Threat = "threat",
        Vulnerability = "vulnerability",
        Web = "web",
    }
}

keyword_enum! {
    /// `event.type`: the third level of ECS's categorization hierarchy.
    pub enum EventType: "type", "an ECS event type" {
        Access = "access",
        Admin = "admin",
        Allowed = "allowed",
        Change = "change",
        Connection = "connection",
        Creation = "creation",
        Deletion = "deletion",
        Denied = "denied",
        Device = "device",
        End = "end",
        Error = "error",
        Group = "group",
        Indicator = "indicator",
        Info = "info",
        Installation = "installation",
        Protocol = "protocol",
        Start = "start",
        User = "user",
    }
}

keyword_enum! {
    /// `event.outcome`: whether the audited operation succeeded, failed, or was logged before its
    /// result was known (writes, which are logged before they happen).
    pub enum Outcome: "outcome", "an ECS event outcome" {
        Success = "success",
        Failure = "failure",
        Unknown = "unknown",
    }
}

impl Category {
    /// The event types ECS expects with this category (`ecs_event_allowed.json`).
    pub const fn expected_types(self) -> &'static [EventType] {
        use EventType as T;
        match self {
            Category::Api => &[
                T::Access,
                T::Admin,
                T::Allowed,
                T::Change,
                T::Creation,
                T::Deletion,
                T::Denied,
                T::End,
                T::Info,
                T::Start,
                T::User,
            ],
            Category::Authentication => &[T::Start, T::End, T::Info],
            Category::Configuration => &[T::Access, T::Change, T::Creation, T::Deletion, T::Info],
            Category::Database => &[T::Access, T::Change, T::Info, T::Error],
            Category::Driver => &[T::Change, T::End, T::Info, T::Start],
            Category::Email => &[T::Info],
            Category::File => &[T::Access, T::Change, T::Creation, T::Deletion, T::Info],
            Category::Host => &[T::Access, T::Change, T::End, T::Info, T::Start],
            Category::Iam => &[T::Admin, T::Change, T::Creation, T::Deletion, T::Group, T::Info, T::User],
            Category::IntrusionDetection => &[T::Allowed, T::Denied, T::Info],
            Category::Library => &[T::Start],
            Category::Malware => &[T::Info],
            Category::Network => {
                &[T::Access, T::Allowed, T::Connection, T::Denied, T::End, T::Info, T::Protocol, T::Start]
            }
            Category::Package => &[T::Access, T::Change, T::Deletion, T::Info, T::Installation, T::Start],
            Category::Process => &[T::Access, T::Change, T::End, T::Info, T::Start],
            Category::Registry => &[T::Access, T::Change, T::Creation, T::Deletion],
            Category::Session => &[T::Start, T::End, T::Info],
            Category::Threat => &[T::Indicator],
            Category::Vulnerability => &[T::Info],
            Category::Web => &[T::Access, T::Error, T::Info],
        }
    }

    /// Pairs ECS does not list but Kibana has established in its audit log (`database` with
    /// `creation` and `deletion`). Accepted so that Kibana-shaped trails validate.
    pub const fn kibana_established_types(self) -> &'static [EventType] {
        match self {
            Category::Database => &[EventType::Creation, EventType::Deletion],
            _ => &[],
        }
    }

    /// Whether `ty` may be used with this category: ECS expects it, or Kibana established it.
    pub const fn allows(self, ty: EventType) -> bool {
        contains(self.expected_types(), ty) || contains(self.kibana_established_types(), ty)
    }
}

impl EventType {
    /// Whether an operation of this type changes state. Writes are logged *before* they run
    /// (outcome `unknown`), everything else after it completes.
    pub const fn is_write(self) -> bool {
        matches!(self, EventType::Creation | EventType::Change | EventType::Deletion)
    }
}

const fn contains(types: &[EventType], ty: EventType) -> bool {
    let mut i = 0;
    while i < types.len() {
        if types[i] as u8 == ty as u8 {
            return true;
        }
        i += 1;
    }
    false
}
