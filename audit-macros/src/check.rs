//! Checks the arguments against ECS, the catalog and the function, and settles everything that can
//! be settled at compile time into a [`Plan`]. Every problem is a compile error at the token that
//! caused it.

use audit_schema::{kibana, verbs, Action, Category, Durability, EventType, Timing};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitStr, Path};

use crate::attr::{ActionArg, Args, Field, StrList};
use crate::errors::Errors;
use crate::message::placeholder_names;
use crate::shape::FnShape;

/// Everything code generation needs.
pub(crate) struct Plan {
    pub(crate) krate: TokenStream,
    pub(crate) action: ActionPlan,
    /// `timing = "..."` as written, passed to the runtime (it overrides an action constant's).
    pub(crate) timing_override: Option<Timing>,
    /// `durability = "..."`: what this action's events ask of the sinks, and where it was written.
    pub(crate) durability: Option<(Durability, Span)>,
    /// The timing when known at compile time: decides whether the body needs wrapping.
    pub(crate) known_timing: Option<Timing>,
    pub(crate) message: Option<Message>,
    pub(crate) failure_message: Option<Message>,
    pub(crate) resource: Option<ResourcePlan>,
    pub(crate) authorize: Option<Authorize>,
    pub(crate) ctx: ContextSource,
    pub(crate) fields: Vec<Field>,
    /// `results …` as written: whether the write logs result events, and its diffs' secrets.
    pub(crate) results: Option<ResultsPlan>,
    /// Whether the body runs in place, as written (a sync write with `#[track_caller]`, whose
    /// caller location a closure would lose): then it can log no result.
    pub(crate) body_in_place: bool,
}

pub(crate) struct ResultsPlan {
    pub(crate) on: bool,
    pub(crate) secret: Vec<LitStr>,
}

pub(crate) enum ActionPlan {
    /// An action named by a string, settled here: becomes a `const Action` in the expansion.
    Literal {
        name: String,
        categories: Vec<Category>,
        types: Vec<EventType>,
        timing: Timing,
        verbs: Option<[String; 3]>,
        object: Option<String>,
    },
    /// An `Action` constant: its values are known only to the compiler's type checker.
    Constant(Path),
}

pub(crate) struct Message {
    pub(crate) template: LitStr,
    /// Placeholders that name a `fields(...)` entry rather than a parameter.
    pub(crate) field_names: Vec<Ident>,
}

pub(crate) struct ResourcePlan {
    pub(crate) kind: Expr,
    pub(crate) id: Option<Expr>,
    pub(crate) name: Option<Expr>,
    pub(crate) each: Option<Expr>,
}

pub(crate) enum Authorize {
    /// `authorize = path`: called with the call's `&AuditContext`.
    Function(Path),
    /// `authorize = expr`: evaluated as written.
    Expr(Expr),
}

pub(crate) enum ContextSource {
    Explicit(Expr),
    Parameter(Ident),
    Ambient,
}

pub(crate) fn plan(mut args: Args, shape: &FnShape<'_>, errors: &mut Errors) -> Option<Plan> {
    if let Some(constness) = &shape.function.sig.constness {
        errors.error(constness.span, "#[audited] cannot instrument a `const fn`: audit logging happens at run time");
    }
    let krate = match &args.krate {
        Some((_, path)) => quote!(#path),
        None => quote!(::audit_core),
    };
    let timing_override = args.timing.as_ref().and_then(|(_, lit)| parse_timing(lit, errors));
    let durability = args.durability.as_ref().and_then(|(_, lit)| match Durability::parse(&lit.value()) {
        Some(durability) => Some((durability, lit.span())),
        None => {
            errors.error(
                lit.span(),
                format!(
                    "durability is \"buffered\", \"flushed\" (handed to the OS) or \"durable\" (fsync'd) \
                     before the call goes on, not \"{}\"",
                    lit.value()
                ),
            );
            None
        }
    });
    let action = match args.action.take() {
        // Given, but not parseable: that error is reported already.
        None if args.unparsed.iter().any(|name| name == "action") => None,
        None => {
            errors.error(
                Span::call_site(),
                "missing `action`: name the audited action, e.g. `#[audited(action = \"dashboard_update\", category = \"database\")]` \
                 or `#[audited(action = SAVED_OBJECT_UPDATE)]`",
            );
            None
        }
        Some((_, ActionArg::Name(lit))) => literal_action(&lit, &args, timing_override, errors),
        Some((_, ActionArg::Constant(path))) => {
            for (name, present) in [
                (&args.category.as_ref().map(|(n, _)| n), "category"),
                (&args.event_type.as_ref().map(|(n, _)| n), "type"),
                (&args.verbs.as_ref().map(|(n, _)| n), "verbs"),
            ] {
                if let Some(name) = name {
                    errors.error(
                        name.span(),
                        format!("`{present}` comes from the action constant `{}`; remove it here", path_text(&path)),
                    );
                }
            }
            Some(ActionPlan::Constant(path))
        }
    };
    let known_timing = match &action {
        Some(ActionPlan::Literal { timing, .. }) => Some(*timing),
        _ => timing_override,
    };

    let fields = args.fields.map(|(_, fields)| fields).unwrap_or_default();
    let message = args.message.map(|(_, lit)| check_message(lit, shape, &fields, errors));
    let failure_message = args.failure_message.map(|(_, lit)| check_message(lit, shape, &fields, errors));

    let resource = args.resource.and_then(|(_, resource)| {
        let Some(kind) = resource.kind else {
            errors.error(resource.span, "`resource(...)` needs the resource's type, e.g. `resource(type = \"dashboard\", id = id)`");
            return None;
        };
        let is_closure = |e: &Expr| matches!(e, Expr::Closure(_));
        for (label, value) in [("id", &resource.id), ("name", &resource.name)] {
            match (value, resource.each.is_some()) {
                (Some(value), true) if !is_closure(value) => errors.error(
                    value.span(),
                    format!("with `each`, `{label}` is a closure from each item to its {label}, e.g. `{label} = |item| item.{label}.clone()`"),
                ),
                (Some(value), false) if is_closure(value) => errors.error(
                    value.span(),
                    format!("`{label}` is a value here; a closure is only taken with `each = ...` (one event per item)"),
                ),
                _ => {}
            }
        }
        Some(ResourcePlan { kind, id: resource.id, name: resource.name, each: resource.each })
    });

    let authorize = args.authorize.map(|(_, expr)| match expr {
        Expr::Path(path) if path.qself.is_none() => Authorize::Function(path.path),
        other => Authorize::Expr(other),
    });

    let ctx = match (args.ctx, shape.context_params.as_slice()) {
        (Some((_, expr)), _) => ContextSource::Explicit(expr),
        (None, [param]) => ContextSource::Parameter(param.clone()),
        (None, []) => ContextSource::Ambient,
        (None, [_, second, ..]) => {
            errors.error(
                second.span(),
                "several parameters are `AuditContext`s; pick the one to audit with `ctx = <parameter>`",
            );
            ContextSource::Ambient
        }
    };

    check_shape(shape, known_timing, errors);

    // A sync write with `#[track_caller]` runs its body in place (a closure would lose the
    // caller's location): it can log no result.
    let has_track_caller = shape.function.attrs.iter().any(|a| a.path().is_ident("track_caller"));
    let in_place_reason = has_track_caller.then_some("a write with `#[track_caller]` runs its body in place");
    let in_place_reason = in_place_reason.filter(|_| known_timing == Some(Timing::Before) && !shape.is_async());
    let body_in_place = in_place_reason.is_some();
    let results = args.results.map(|(name, arg)| {
        for lit in &arg.secret {
            if let Err(problem) = audit_schema::action::check_field_path(&lit.value()) {
                errors.error(lit.span(), format!("`{}`: {problem}", lit.value()));
            }
        }
        if arg.on && known_timing == Some(Timing::After) {
            errors.error(
                name.span(),
                "`results` is for writes (`timing = \"before\"`): a read is logged once, after it runs, with its \
                 outcome already; remove `results`",
            );
        }
        if let (true, Some(reason)) = (arg.on, in_place_reason) {
            errors.error(
                name.span(),
                format!("{reason}, where its result cannot be seen: remove `results`, or what keeps the body in place"),
            );
        }
        ResultsPlan { on: arg.on, secret: arg.secret }
    });
    // A change recorded in the body, where the macro can see it, needs a write that logs results.
    let results_known = match (&action, &results) {
        (_, Some(plan)) => Some(plan.on),
        (Some(ActionPlan::Literal { .. }), None) => Some(false),
        _ => None,
    };
    for call in shape.recorded_changes() {
        if known_timing == Some(Timing::After) {
            errors
                .error(call, "a read changes nothing: `changes::…` records what a write changed, on its result event");
        } else if results_known == Some(false) || body_in_place {
            errors.error(
                call,
                "this records a change, but the call logs no result to carry it: add `results` to the \
                 attribute (`#[audited(…, results)]`)",
            );
        }
    }

    let action = action?;
    errors.is_empty().then_some(Plan {
        krate,
        action,
        timing_override,
        durability,
        known_timing,
        message,
        failure_message,
        resource,
        authorize,
        ctx,
        fields,
        results,
        body_in_place,
    })
}

/// What the function's shape rules out: `#[track_caller]` where the body runs in a closure (a
/// read's), and a plain function returning a future (it would be logged when the future is made,
/// not when it completes).
fn check_shape(shape: &FnShape<'_>, known_timing: Option<Timing>, errors: &mut Errors) {
    let body_in_closure = !shape.is_async() && known_timing != Some(Timing::Before);
    if let Some(track_caller) = shape.function.attrs.iter().find(|a| a.path().is_ident("track_caller")) {
        if body_in_closure {
            errors.error(
                track_caller.path().span(),
                "`#[track_caller]` has no effect on an audited read: its body runs inside a closure, where the \
                 caller's location is not tracked; log the location yourself (`std::panic::Location::caller()` \
                 in a wrapper), or audit the function as a write (`timing = \"before\"`), whose body runs in place",
            );
        }
    }
    if !shape.is_async() {
        if let syn::ReturnType::Type(_, ty) = &shape.function.sig.output {
            if let Some(future) = future_in(ty) {
                errors.error(
                    future,
                    "an audited function that returns a future would be logged when the future is made, not \
                     when it completes (a read would be `success` before it ran): write it as an `async fn`",
                );
            }
        }
    }
}

/// Where a return type names a future (`impl Future<…>`, `Box<dyn Future<…>>`, `BoxFuture<…>`).
fn future_in(ty: &syn::Type) -> Option<Span> {
    struct Finder(Option<Span>);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_path_segment(&mut self, segment: &'ast syn::PathSegment) {
            if self.0.is_none() && segment.ident.to_string().ends_with("Future") {
                self.0 = Some(segment.ident.span());
            }
            syn::visit::visit_path_segment(self, segment);
        }
    }
    let mut finder = Finder(None);
    syn::visit::Visit::visit_type(&mut finder, ty);
    finder.0
}

fn parse_timing(lit: &LitStr, errors: &mut Errors) -> Option<Timing> {
    let timing = Timing::parse(&lit.value());
    if timing.is_none() {
        errors.error(
            lit.span(),
            format!(
                "timing is \"before\" (writes: logged before the body runs, outcome unknown) or \"after\" \
                 (reads: logged when it completes), not \"{}\"",
                lit.value()
            ),
        );
    }
    timing
}

fn parse_each<T: Copy>(
    list: &StrList,
    parse: impl Fn(&str) -> Option<T>,
    all: &[T],
    as_str: impl Fn(T) -> &'static str,
    what: &str,
    errors: &mut Errors,
) -> Option<Vec<T>> {
    let mut values = Vec::new();
    for lit in &list.items {
        let text = lit.value();
        match parse(&text) {
            Some(value) => values.push(value),
            None => {
                let names: Vec<&str> = all.iter().map(|v| as_str(*v)).collect();
                let hint = match audit_schema::suggest::closest(&text, names.iter().copied()) {
                    Some(close) => format!("; did you mean `{close}`?"),
                    None => format!(" (expected one of: {})", names.join(", ")),
                };
                errors.error(lit.span(), format!("`{text}` is not an ECS event {what}{hint}"));
            }
        }
    }
    (values.len() == list.items.len()).then_some(values)
}

fn literal_action(
    lit: &LitStr,
    args: &Args,
    timing_override: Option<Timing>,
    errors: &mut Errors,
) -> Option<ActionPlan> {
    let name = lit.value();
    if let Err(problem) = audit_schema::action::check_name(&name) {
        errors.error(lit.span(), format!("`{name}`: {problem}"));
        return None;
    }
    let catalog = kibana::find(&name);

    let given_categories = args.category.as_ref().map(|(_, list)| {
        (list.span, parse_each(list, Category::parse, Category::ALL, Category::as_str, "category", errors))
    });
    let given_types = args.event_type.as_ref().map(|(_, list)| {
        (list.span, parse_each(list, EventType::parse, EventType::ALL, EventType::as_str, "type", errors))
    });
    let inferred = verbs::infer(&name);

    let categories = match agree_with_catalog(given_categories, catalog.map(Action::categories), &name, errors)? {
        Some((given, _)) => given,
        None => {
            let hint = match audit_schema::suggest::closest(&name, kibana::ALL.iter().map(|a| a.name())) {
                Some(close) => {
                    format!("did you mean the catalog action `{close}`? Otherwise, ")
                }
                None => String::new(),
            };
            errors.error(
                lit.span(),
                format!(
                    "unknown action `{name}`: it is not in the catalog; {hint}declare its ECS category, \
                     e.g. `category = \"database\"`, or use an `Action` constant"
                ),
            );
            return None;
        }
    };
    if categories.is_empty() {
        errors.error(
            args.category.as_ref().map_or(lit.span(), |(_, l)| l.span),
            "an action needs at least one ECS category",
        );
        return None;
    }

    let (types, types_span) = match agree_with_catalog(given_types, catalog.map(Action::types), &name, errors)? {
        Some((given, span)) => (given, span.unwrap_or(lit.span())),
        None => match inferred {
            Some(found) => (vec![found.event_type], lit.span()),
            None => {
                errors.error(
                    lit.span(),
                    format!(
                        "cannot infer the event type of `{name}`: its name ends in no known verb (create, update, delete, get, find, …); \
                         add `type = \"...\"`"
                    ),
                );
                return None;
            }
        },
    };
    for ty in &types {
        if !categories.iter().any(|c| c.allows(*ty)) {
            let expected: Vec<&str> = categories.iter().flat_map(|c| c.expected_types()).map(|t| t.as_str()).collect();
            let how = if args.event_type.is_some() {
                ""
            } else {
                " (inferred from the action's verb; add an explicit `type`)"
            };
            errors.error(
                types_span,
                format!(
                    "ECS does not expect type `{ty}` with category {}{how}; expected: {}",
                    list_text(&categories, Category::as_str),
                    expected.join(", ")
                ),
            );
            return None;
        }
    }

    let timing = timing_override.or(catalog.map(|entry| entry.timing())).unwrap_or(Timing::implied_by(&types));
    let verbs = match (&args.verbs, catalog) {
        (Some((_, v)), _) => {
            let forms = [v.present.value(), v.progressive.value(), v.past.value()];
            if forms.iter().any(|f| f.trim().is_empty()) {
                errors.error(v.span, "`verbs` forms cannot be empty");
                return None;
            }
            Some(forms)
        }
        (None, Some(entry)) => {
            entry.declared_verbs().map(|v| [v.present.to_owned(), v.progressive.to_owned(), v.past.to_owned()])
        }
        (None, None) => None,
    };
    let object = catalog.and_then(|entry| entry.declared_object()).map(str::to_owned);
    Some(ActionPlan::Literal { name, categories, types, timing, verbs, object })
}

/// A list (categories or types) the attribute may give and a catalog action defines: the given
/// one, with its span, when it agrees with the catalog's; the catalog's when none is given;
/// `Some(None)` when there is neither. `None` after reporting a value that does not parse or
/// disagrees with the catalog.
#[allow(clippy::type_complexity)]
fn agree_with_catalog<T: Copy + PartialEq + Keyword>(
    given: Option<(Span, Option<Vec<T>>)>,
    catalog: Option<&'static [T]>,
    name: &str,
    errors: &mut Errors,
) -> Option<Option<(Vec<T>, Option<Span>)>> {
    match (given, catalog) {
        (Some((_, None)), _) => None,
        (Some((span, Some(given))), Some(entry)) if given != entry => {
            errors.error(
                span,
                format!(
                    "`{name}` is a catalog action of {} {}; leave `{}` out",
                    T::KIND,
                    list_text(entry, T::keyword),
                    T::KIND
                ),
            );
            None
        }
        (Some((span, Some(given))), _) => Some(Some((given, Some(span)))),
        (None, Some(entry)) => Some(Some((entry.to_vec(), None))),
        (None, None) => Some(None),
    }
}

/// What [`agree_with_catalog`] needs of [`Category`] and [`EventType`].
trait Keyword: 'static {
    const KIND: &'static str;
    fn keyword(self) -> &'static str;
}

impl Keyword for Category {
    const KIND: &'static str = Category::KIND;
    fn keyword(self) -> &'static str {
        Category::as_str(self)
    }
}

impl Keyword for EventType {
    const KIND: &'static str = EventType::KIND;
    fn keyword(self) -> &'static str {
        EventType::as_str(self)
    }
}

/// Whether `value` is the parameter `name` itself (`secret(email)`).
fn names_parameter(value: &Expr, name: &str) -> bool {
    matches!(value, Expr::Path(path) if path.path.is_ident(name))
}

fn check_message(template: LitStr, shape: &FnShape<'_>, fields: &[Field], errors: &mut Errors) -> Message {
    let mut field_names = Vec::new();
    match placeholder_names(&template.value()) {
        Err(problem) => errors.error(template.span(), problem),
        Ok(names) => {
            for name in names {
                // `format!` captures identifiers only: `self` cannot be a placeholder.
                let is_param = name != "self" && shape.bound_names.iter().any(|p| p == &name);
                let field = fields.iter().find(|f| f.key == name);
                match (is_param, field) {
                    (true, Some(field)) => errors.error(
                        field.key.span(),
                        format!("`{name}` names both a parameter and a field of the message; rename the field"),
                    ),
                    (false, Some(field)) => {
                        if !field_names.contains(&field.key) {
                            field_names.push(field.key.clone());
                        }
                    }
                    (true, None) => {
                        if let Some(secret) = fields.iter().find(|f| f.secret && names_parameter(&f.value, &name)) {
                            errors.error(
                                template.span(),
                                format!(
                                    "`{{{name}}}` would write the secret `{name}` in the message in clear; name its \
                                     field instead (`{{{}}}`, its HMAC)",
                                    secret.key
                                ),
                            );
                        }
                    }
                    (false, None) => {
                        let mut known: Vec<String> =
                            shape.bound_names.iter().map(Ident::to_string).filter(|n| n != "self").collect();
                        known.extend(fields.iter().map(|f| f.key.to_string()));
                        let hint = match audit_schema::suggest::closest(&name, known.iter().map(String::as_str)) {
                            Some(close) => format!("; did you mean `{close}`?"),
                            None if known.is_empty() => "; the function has no parameters".to_owned(),
                            None => format!(" (parameters and fields: {})", known.join(", ")),
                        };
                        errors.error(
                            template.span(),
                            format!(
                                "`{{{name}}}` in the message names no parameter of `{}`{hint}",
                                shape.function.sig.ident
                            ),
                        );
                    }
                }
            }
        }
    }
    Message { template, field_names }
}

fn list_text<T: Copy>(values: &[T], as_str: impl Fn(T) -> &'static str) -> String {
    if values.is_empty() {
        return "(none)".to_owned();
    }
    values.iter().map(|v| format!("`{}`", as_str(*v))).collect::<Vec<_>>().join(", ")
}

fn path_text(path: &Path) -> String {
    path.segments.iter().map(|s| s.ident.to_string()).collect::<Vec<_>>().join("::")
}
