//! Kibana's 143 documented audit actions as a ready catalog of [`Action`] constants.
//!
//! Each constant carries the category and type Kibana documents, the timing its documented
//! outcomes imply (actions Kibana logs with outcome `unknown` are logged before they run; the
//! rest after), and the verbs of Kibana's message grammar. The table is tested against
//! `data/kibana_audit_events.json`, taken from Kibana's `kibana-audit-events` reference.
//!
//! ```
//! use audit_schema::kibana;
//! assert_eq!(kibana::SAVED_OBJECT_UPDATE.name(), "saved_object_update");
//! assert_eq!(kibana::find("space_get"), Some(&kibana::SPACE_GET));
//! ```

use crate::action::Action;
use crate::ecs::{Category, EventType};
use crate::timing::Timing;

macro_rules! catalog {
    ($($konst:ident = ($name:literal, [$($cat:expr),*], [$($ty:expr),*], $timing:ident,
        ($p:literal, $g:literal, $d:literal), $object:literal);)*) => {
        $(
            #[doc = concat!("`", $name, "`: logged ", stringify!($timing), "; \"User is ", $g, " ", $object, "\".")]
            pub const $konst: Action = Action::with_categories($name, &[$($cat),*], &[$($ty),*])
                .with_timing(Timing::$timing)
                .with_verbs($p, $g, $d)
                .with_object($object);
        )*

        /// Every action of the catalog, in the order of Kibana's reference.
        pub const ALL: &[&Action] = &[$(&$konst),*];
    };
}

/// The catalog action named `name`, if Kibana documents one.
pub fn find(name: &str) -> Option<&'static Action> {
    ALL.iter().copied().find(|action| action.name() == name)
}

catalog! {
    USER_LOGIN = ("user_login", [Category::Authentication], [], After, ("log in", "logging in", "logged in"), "the application");
    USER_LOGOUT = ("user_logout", [Category::Authentication], [], Before, ("log out", "logging out", "logged out"), "the application");
    SESSION_CLEANUP = ("session_cleanup", [Category::Authentication], [], Before, ("clean up", "cleaning up", "cleaned up"), "sessions");
    ACCESS_AGREEMENT_ACKNOWLEDGED = ("access_agreement_acknowledged", [Category::Authentication], [], After, ("acknowledge", "acknowledging", "acknowledged"), "the access agreement");
    SAVED_OBJECT_CREATE = ("saved_object_create", [Category::Database], [EventType::Creation], Before, ("create", "creating", "created"), "saved objects");
    SAVED_OBJECT_OPEN_POINT_IN_TIME = ("saved_object_open_point_in_time", [Category::Database], [EventType::Creation], Before, ("open point-in-time", "opening point-in-time", "opened point-in-time"), "saved objects");
    CONNECTOR_CREATE = ("connector_create", [Category::Database], [EventType::Creation], Before, ("create", "creating", "created"), "connectors");
    RULE_CREATE = ("rule_create", [Category::Database], [EventType::Creation], Before, ("create", "creating", "created"), "rules");
    AD_HOC_RUN_CREATE = ("ad_hoc_run_create", [Category::Database], [EventType::Creation], Before, ("create", "creating", "created"), "ad hoc runs");
    SPACE_CREATE = ("space_create", [Category::Database], [EventType::Creation], Before, ("create", "creating", "created"), "spaces");
    CASE_CREATE = ("case_create", [Category::Database], [EventType::Creation], Before, ("create", "creating", "created"), "cases");
    CASE_CONFIGURATION_CREATE = ("case_configuration_create", [Category::Database], [EventType::Creation], Before, ("create", "creating", "created"), "case configurations");
    CASE_COMMENT_CREATE = ("case_comment_create", [Category::Database], [EventType::Creation], Before, ("create", "creating", "created"), "case comments");
    CASE_COMMENT_BULK_CREATE = ("case_comment_bulk_create", [Category::Database], [EventType::Creation], Before, ("create", "creating", "created"), "case comments");
    CASE_USER_ACTION_CREATE_COMMENT = ("case_user_action_create_comment", [Category::Database], [EventType::Creation], After, ("create", "creating", "created"), "case comments");
    CASE_USER_ACTION_CREATE_CASE = ("case_user_action_create_case", [Category::Database], [EventType::Creation], After, ("create", "creating", "created"), "cases");
    ML_PUT_AD_JOB = ("ml_put_ad_job", [Category::Database], [EventType::Creation], After, ("create", "creating", "created"), "anomaly detection jobs");
    ML_PUT_AD_DATAFEED = ("ml_put_ad_datafeed", [Category::Database], [EventType::Creation], After, ("create", "creating", "created"), "anomaly detection datafeeds");
    ML_PUT_CALENDAR = ("ml_put_calendar", [Category::Database], [EventType::Creation], After, ("create", "creating", "created"), "calendars");
    ML_POST_CALENDAR_EVENTS = ("ml_post_calendar_events", [Category::Database], [EventType::Creation], After, ("add", "adding", "added"), "calendar events");
    ML_FORECAST = ("ml_forecast", [Category::Database], [EventType::Creation], After, ("forecast", "forecasting", "forecast"), "forecasts");
    ML_PUT_FILTER = ("ml_put_filter", [Category::Database], [EventType::Creation], After, ("create", "creating", "created"), "filters");
    ML_PUT_DFA_JOB = ("ml_put_dfa_job", [Category::Database], [EventType::Creation], After, ("create", "creating", "created"), "data frame analytics jobs");
    ML_PUT_TRAINED_MODEL = ("ml_put_trained_model", [Category::Database], [EventType::Creation], After, ("create", "creating", "created"), "trained models");
    PRODUCT_DOCUMENTATION_CREATE = ("product_documentation_create", [Category::Database], [EventType::Creation], Before, ("install", "installing", "installed"), "product documentation");
    KNOWLEDGE_BASE_ENTRY_CREATE = ("knowledge_base_entry_create", [Category::Database], [EventType::Creation], After, ("create", "creating", "created"), "knowledge base entries");
    KNOWLEDGE_BASE_ENTRY_UPDATE = ("knowledge_base_entry_update", [Category::Database], [EventType::Creation], After, ("update", "updating", "updated"), "knowledge base entries");
    KNOWLEDGE_BASE_ENTRY_DELETE = ("knowledge_base_entry_delete", [Category::Database], [EventType::Creation], After, ("delete", "deleting", "deleted"), "knowledge base entries");
    SAVED_OBJECT_UPDATE = ("saved_object_update", [Category::Database], [EventType::Change], Before, ("update", "updating", "updated"), "saved objects");
    SAVED_OBJECT_UPDATE_OBJECTS_SPACES = ("saved_object_update_objects_spaces", [Category::Database], [EventType::Change], Before, ("update spaces of", "updating spaces of", "updated spaces of"), "saved objects");
    SAVED_OBJECT_REMOVE_REFERENCES = ("saved_object_remove_references", [Category::Database], [EventType::Change], Before, ("remove references to", "removing references to", "removed references to"), "saved objects");
    SAVED_OBJECT_COLLECT_MULTINAMESPACE_REFERENCES = ("saved_object_collect_multinamespace_references", [Category::Database], [EventType::Change], After, ("collect references and spaces of", "collecting references and spaces of", "collected references and spaces of"), "saved objects");
    CONNECTOR_UPDATE = ("connector_update", [Category::Database], [EventType::Change], Before, ("update", "updating", "updated"), "connectors");
    RULE_UPDATE = ("rule_update", [Category::Database], [EventType::Change], Before, ("update", "updating", "updated"), "rules");
    RULE_UPDATE_API_KEY = ("rule_update_api_key", [Category::Database], [EventType::Change], Before, ("update the API key of", "updating the API key of", "updated the API key of"), "rules");
    RULE_ENABLE = ("rule_enable", [Category::Database], [EventType::Change], Before, ("enable", "enabling", "enabled"), "rules");
    RULE_DISABLE = ("rule_disable", [Category::Database], [EventType::Change], Before, ("disable", "disabling", "disabled"), "rules");
    RULE_MUTE = ("rule_mute", [Category::Database], [EventType::Change], Before, ("mute", "muting", "muted"), "rules");
    RULE_UNMUTE = ("rule_unmute", [Category::Database], [EventType::Change], Before, ("unmute", "unmuting", "unmuted"), "rules");
    RULE_ALERT_MUTE = ("rule_alert_mute", [Category::Database], [EventType::Change], Before, ("mute", "muting", "muted"), "rule alerts");
    RULE_ALERT_UNMUTE = ("rule_alert_unmute", [Category::Database], [EventType::Change], Before, ("unmute", "unmuting", "unmuted"), "rule alerts");
    SPACE_UPDATE = ("space_update", [Category::Database], [EventType::Change], Before, ("update", "updating", "updated"), "spaces");
    ALERT_UPDATE = ("alert_update", [Category::Database], [EventType::Change], Before, ("update", "updating", "updated"), "alerts");
    RULE_SNOOZE = ("rule_snooze", [Category::Database], [EventType::Change], Before, ("snooze", "snoozing", "snoozed"), "rules");
    RULE_UNSNOOZE = ("rule_unsnooze", [Category::Database], [EventType::Change], Before, ("unsnooze", "unsnoozing", "unsnoozed"), "rules");
    RULE_ALERT_SNOOZE = ("rule_alert_snooze", [Category::Database], [EventType::Change], Before, ("snooze", "snoozing", "snoozed"), "rule alerts");
    RULE_ALERT_UNSNOOZE = ("rule_alert_unsnooze", [Category::Database], [EventType::Change], After, ("unsnooze", "unsnoozing", "unsnoozed"), "rule alerts");
    RULE_ALERT_ACKNOWLEDGE = ("rule_alert_acknowledge", [Category::Database], [EventType::Change], Before, ("acknowledge", "acknowledging", "acknowledged"), "rule alerts");
    RULE_ALERT_UNACKNOWLEDGE = ("rule_alert_unacknowledge", [Category::Database], [EventType::Change], After, ("unacknowledge", "unacknowledging", "unacknowledged"), "rule alerts");
    CASE_UPDATE = ("case_update", [Category::Database], [EventType::Change], Before, ("update", "updating", "updated"), "cases");
    CASE_PUSH = ("case_push", [Category::Database], [EventType::Change], Before, ("push", "pushing", "pushed"), "cases");
    CASE_CONFIGURATION_UPDATE = ("case_configuration_update", [Category::Database], [EventType::Change], Before, ("update", "updating", "updated"), "case configurations");
    CASE_COMMENT_UPDATE = ("case_comment_update", [Category::Database], [EventType::Change], Before, ("update", "updating", "updated"), "case comments");
    CASE_USER_ACTION_ADD_CASE_ASSIGNEES = ("case_user_action_add_case_assignees", [Category::Database], [EventType::Change], After, ("add", "adding", "added"), "case assignees");
    CASE_USER_ACTION_UPDATE_CASE_CONNECTOR = ("case_user_action_update_case_connector", [Category::Database], [EventType::Change], After, ("update", "updating", "updated"), "case connectors");
    CASE_USER_ACTION_UPDATE_CASE_DESCRIPTION = ("case_user_action_update_case_description", [Category::Database], [EventType::Change], After, ("update", "updating", "updated"), "case descriptions");
    CASE_USER_ACTION_UPDATE_CASE_SETTINGS = ("case_user_action_update_case_settings", [Category::Database], [EventType::Change], After, ("update", "updating", "updated"), "case settings");
    CASE_USER_ACTION_UPDATE_CASE_SEVERITY = ("case_user_action_update_case_severity", [Category::Database], [EventType::Change], After, ("update", "updating", "updated"), "case severities");
    CASE_USER_ACTION_UPDATE_CASE_STATUS = ("case_user_action_update_case_status", [Category::Database], [EventType::Change], After, ("update", "updating", "updated"), "case statuses");
    CASE_USER_ACTION_PUSHED_CASE = ("case_user_action_pushed_case", [Category::Database], [EventType::Change], After, ("push", "pushing", "pushed"), "cases");
    CASE_USER_ACTION_ADD_CASE_TAGS = ("case_user_action_add_case_tags", [Category::Database], [EventType::Change], After, ("add", "adding", "added"), "case tags");
    CASE_USER_ACTION_UPDATE_CASE_TITLE = ("case_user_action_update_case_title", [Category::Database], [EventType::Change], After, ("update", "updating", "updated"), "case titles");
    ML_OPEN_AD_JOB = ("ml_open_ad_job", [Category::Database], [EventType::Change], After, ("open", "opening", "opened"), "anomaly detection jobs");
    ML_CLOSE_AD_JOB = ("ml_close_ad_job", [Category::Database], [EventType::Change], After, ("close", "closing", "closed"), "anomaly detection jobs");
    ML_START_AD_DATAFEED = ("ml_start_ad_datafeed", [Category::Database], [EventType::Change], After, ("start", "starting", "started"), "anomaly detection datafeeds");
    ML_STOP_AD_DATAFEED = ("ml_stop_ad_datafeed", [Category::Database], [EventType::Change], After, ("stop", "stopping", "stopped"), "anomaly detection datafeeds");
    ML_UPDATE_AD_JOB = ("ml_update_ad_job", [Category::Database], [EventType::Change], After, ("update", "updating", "updated"), "anomaly detection jobs");
    ML_RESET_AD_JOB = ("ml_reset_ad_job", [Category::Database], [EventType::Change], After, ("reset", "resetting", "reset"), "anomaly detection jobs");
    ML_REVERT_AD_SNAPSHOT = ("ml_revert_ad_snapshot", [Category::Database], [EventType::Change], After, ("revert", "reverting", "reverted"), "anomaly detection snapshots");
    ML_UPDATE_AD_DATAFEED = ("ml_update_ad_datafeed", [Category::Database], [EventType::Change], After, ("update", "updating", "updated"), "anomaly detection datafeeds");
    ML_PUT_CALENDAR_JOB = ("ml_put_calendar_job", [Category::Database], [EventType::Change], After, ("add", "adding", "added"), "calendar jobs");
    ML_DELETE_CALENDAR_JOB = ("ml_delete_calendar_job", [Category::Database], [EventType::Change], After, ("remove", "removing", "removed"), "calendar jobs");
    ML_UPDATE_FILTER = ("ml_update_filter", [Category::Database], [EventType::Change], After, ("update", "updating", "updated"), "filters");
    ML_START_DFA_JOB = ("ml_start_dfa_job", [Category::Database], [EventType::Change], After, ("start", "starting", "started"), "data frame analytics jobs");
    ML_STOP_DFA_JOB = ("ml_stop_dfa_job", [Category::Database], [EventType::Change], After, ("stop", "stopping", "stopped"), "data frame analytics jobs");
    ML_UPDATE_DFA_JOB = ("ml_update_dfa_job", [Category::Database], [EventType::Change], After, ("update", "updating", "updated"), "data frame analytics jobs");
    ML_START_TRAINED_MODEL_DEPLOYMENT = ("ml_start_trained_model_deployment", [Category::Database], [EventType::Change], After, ("start", "starting", "started"), "trained model deployments");
    ML_STOP_TRAINED_MODEL_DEPLOYMENT = ("ml_stop_trained_model_deployment", [Category::Database], [EventType::Change], After, ("stop", "stopping", "stopped"), "trained model deployments");
    ML_UPDATE_TRAINED_MODEL_DEPLOYMENT = ("ml_update_trained_model_deployment", [Category::Database], [EventType::Change], After, ("update", "updating", "updated"), "trained model deployments");
    PRODUCT_DOCUMENTATION_UPDATE = ("product_documentation_update", [Category::Database], [EventType::Change], Before, ("update", "updating", "updated"), "product documentation");
    SAVED_OBJECT_DELETE = ("saved_object_delete", [Category::Database], [EventType::Deletion], Before, ("delete", "deleting", "deleted"), "saved objects");
    SAVED_OBJECT_CLOSE_POINT_IN_TIME = ("saved_object_close_point_in_time", [Category::Database], [EventType::Deletion], Before, ("close point-in-time", "closing point-in-time", "closed point-in-time"), "saved objects");
    CONNECTOR_DELETE = ("connector_delete", [Category::Database], [EventType::Deletion], Before, ("delete", "deleting", "deleted"), "connectors");
    RULE_DELETE = ("rule_delete", [Category::Database], [EventType::Deletion], Before, ("delete", "deleting", "deleted"), "rules");
    AD_HOC_RUN_DELETE = ("ad_hoc_run_delete", [Category::Database], [EventType::Deletion], Before, ("delete", "deleting", "deleted"), "ad hoc runs");
    SPACE_DELETE = ("space_delete", [Category::Database], [EventType::Deletion], Before, ("delete", "deleting", "deleted"), "spaces");
    CASE_DELETE = ("case_delete", [Category::Database], [EventType::Deletion], Before, ("delete", "deleting", "deleted"), "cases");
    CASE_COMMENT_DELETE_ALL = ("case_comment_delete_all", [Category::Database], [EventType::Deletion], Before, ("delete all comments of", "deleting all comments of", "deleted all comments of"), "cases");
    CASE_COMMENT_DELETE = ("case_comment_delete", [Category::Database], [EventType::Deletion], Before, ("delete", "deleting", "deleted"), "case comments");
    CASE_USER_ACTION_DELETE_CASE_ASSIGNEES = ("case_user_action_delete_case_assignees", [Category::Database], [EventType::Deletion], After, ("remove", "removing", "removed"), "case assignees");
    CASE_USER_ACTION_DELETE_COMMENT = ("case_user_action_delete_comment", [Category::Database], [EventType::Deletion], After, ("delete", "deleting", "deleted"), "case comments");
    CASE_USER_ACTION_DELETE_CASE = ("case_user_action_delete_case", [Category::Database], [EventType::Deletion], After, ("delete", "deleting", "deleted"), "cases");
    CASE_USER_ACTION_DELETE_CASE_TAGS = ("case_user_action_delete_case_tags", [Category::Database], [EventType::Deletion], After, ("remove", "removing", "removed"), "case tags");
    ML_DELETE_AD_JOB = ("ml_delete_ad_job", [Category::Database], [EventType::Deletion], After, ("delete", "deleting", "deleted"), "anomaly detection jobs");
    ML_DELETE_MODEL_SNAPSHOT = ("ml_delete_model_snapshot", [Category::Database], [EventType::Deletion], After, ("delete", "deleting", "deleted"), "model snapshots");
    ML_DELETE_AD_DATAFEED = ("ml_delete_ad_datafeed", [Category::Database], [EventType::Deletion], After, ("delete", "deleting", "deleted"), "anomaly detection datafeeds");
    ML_DELETE_CALENDAR = ("ml_delete_calendar", [Category::Database], [EventType::Deletion], After, ("delete", "deleting", "deleted"), "calendars");
    ML_DELETE_CALENDAR_EVENT = ("ml_delete_calendar_event", [Category::Database], [EventType::Deletion], After, ("delete", "deleting", "deleted"), "calendar events");
    ML_DELETE_FILTER = ("ml_delete_filter", [Category::Database], [EventType::Deletion], After, ("delete", "deleting", "deleted"), "filters");
    ML_DELETE_FORECAST = ("ml_delete_forecast", [Category::Database], [EventType::Deletion], After, ("delete", "deleting", "deleted"), "forecasts");
    ML_DELETE_DFA_JOB = ("ml_delete_dfa_job", [Category::Database], [EventType::Deletion], After, ("delete", "deleting", "deleted"), "data frame analytics jobs");
    ML_DELETE_TRAINED_MODEL = ("ml_delete_trained_model", [Category::Database], [EventType::Deletion], After, ("delete", "deleting", "deleted"), "trained models");
    PRODUCT_DOCUMENTATION_DELETE = ("product_documentation_delete", [Category::Database], [EventType::Deletion], Before, ("delete", "deleting", "deleted"), "product documentation");
    SAVED_OBJECT_GET = ("saved_object_get", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "saved objects");
    SAVED_OBJECT_RESOLVE = ("saved_object_resolve", [Category::Database], [EventType::Access], After, ("resolve", "resolving", "resolved"), "saved objects");
    SAVED_OBJECT_FIND = ("saved_object_find", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "saved objects");
    CONNECTOR_GET = ("connector_get", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "connectors");
    CONNECTOR_FIND = ("connector_find", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "connectors");
    RULE_GET = ("rule_get", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "rules");
    RULE_GET_EXECUTION_LOG = ("rule_get_execution_log", [Category::Database], [EventType::Access], After, ("access the execution log of", "accessing the execution log of", "accessed the execution log of"), "rules");
    RULE_FIND = ("rule_find", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "rules");
    RULE_SCHEDULE_BACKFILL = ("rule_schedule_backfill", [Category::Database], [EventType::Access], After, ("schedule backfill for", "scheduling backfill for", "scheduled backfill for"), "rules");
    AD_HOC_RUN_GET = ("ad_hoc_run_get", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "ad hoc runs");
    AD_HOC_RUN_FIND = ("ad_hoc_run_find", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "ad hoc runs");
    SPACE_GET = ("space_get", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "spaces");
    SPACE_FIND = ("space_find", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "spaces");
    ALERT_GET = ("alert_get", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "alerts");
    ALERT_FIND = ("alert_find", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "alerts");
    CASE_GET = ("case_get", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "cases");
    CASE_BULK_GET = ("case_bulk_get", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "cases");
    CASE_RESOLVE = ("case_resolve", [Category::Database], [EventType::Access], After, ("resolve", "resolving", "resolved"), "cases");
    CASE_FIND = ("case_find", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "cases");
    CASE_IDS_BY_ALERT_ID_GET = ("case_ids_by_alert_id_get", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "cases by alert id");
    CASE_GET_METRICS = ("case_get_metrics", [Category::Database], [EventType::Access], After, ("access metrics of", "accessing metrics of", "accessed metrics of"), "cases");
    CASES_GET_METRICS = ("cases_get_metrics", [Category::Database], [EventType::Access], After, ("access metrics of", "accessing metrics of", "accessed metrics of"), "cases");
    CASE_CONFIGURATION_FIND = ("case_configuration_find", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "case configurations");
    CASE_COMMENT_GET_METRICS = ("case_comment_get_metrics", [Category::Database], [EventType::Access], After, ("access metrics of", "accessing metrics of", "accessed metrics of"), "case comments");
    CASE_COMMENT_ALERTS_ATTACH_TO_CASE = ("case_comment_alerts_attach_to_case", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "case alerts");
    CASE_COMMENT_GET = ("case_comment_get", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "case comments");
    CASE_COMMENT_BULK_GET = ("case_comment_bulk_get", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "case comments");
    CASE_COMMENT_GET_ALL = ("case_comment_get_all", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "case comments");
    CASE_COMMENT_FIND = ("case_comment_find", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "case comments");
    CASE_CATEGORIES_GET = ("case_categories_get", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "case categories");
    CASE_TAGS_GET = ("case_tags_get", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "case tags");
    CASE_REPORTERS_GET = ("case_reporters_get", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "case reporters");
    CASE_FIND_STATUSES = ("case_find_statuses", [Category::Database], [EventType::Access], After, ("access statuses of", "accessing statuses of", "accessed statuses of"), "cases");
    CASE_USER_ACTIONS_GET = ("case_user_actions_get", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "case user activity");
    CASE_USER_ACTIONS_FIND = ("case_user_actions_find", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "case user activity");
    CASE_USER_ACTION_GET_METRICS = ("case_user_action_get_metrics", [Category::Database], [EventType::Access], After, ("access metrics of", "accessing metrics of", "accessed metrics of"), "case user activity");
    CASE_USER_ACTION_GET_USERS = ("case_user_action_get_users", [Category::Database], [EventType::Access], After, ("access the users of", "accessing the users of", "accessed the users of"), "cases");
    CASE_CONNECTORS_GET = ("case_connectors_get", [Category::Database], [EventType::Access], After, ("access", "accessing", "accessed"), "case connectors");
    ML_INFER_TRAINED_MODEL = ("ml_infer_trained_model", [Category::Database], [EventType::Access], After, ("infer with", "inferring with", "inferred with"), "trained models");
    HTTP_REQUEST = ("http_request", [Category::Web], [], Before, ("request", "requesting", "requested"), "endpoints");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(ALL[i + 1..].iter().all(|b| b.name() != a.name()), "{} twice", a.name());
        }
    }
}
