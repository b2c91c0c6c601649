//! Parsing `#[audited(...)]`'s arguments into [`Args`], with nothing checked beyond syntax.
//! Unknown and duplicated arguments are collected as errors so that one compile shows them all.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Path, Token};

use crate::errors::Errors;

const RESOURCE_ARGUMENTS: &[&str] = &["type", "id", "name", "each"];

/// `action = "saved_object_update"` or `action = SAVED_OBJECT_UPDATE`.
pub(crate) enum ActionArg {
    Name(LitStr),
    Constant(Path),
}

/// A string, or an array of strings (`category = ["iam", "database"]`).
pub(crate) struct StrList {
    pub(crate) span: Span,
    pub(crate) items: Vec<LitStr>,
}

/// `resource(type = "dashboard", id = id, name = title, each = ids)`.
pub(crate) struct ResourceArg {
    pub(crate) span: Span,
    pub(crate) kind: Option<Expr>,
    pub(crate) id: Option<Expr>,
    pub(crate) name: Option<Expr>,
    pub(crate) each: Option<Expr>,
}

/// `verbs("export", "exporting", "exported")`.
pub(crate) struct VerbsArg {
    pub(crate) span: Span,
    pub(crate) present: LitStr,
    pub(crate) progressive: LitStr,
    pub(crate) past: LitStr,
}

/// `results`, `results = true|false`, or `results(secret = ["password", "/credentials/key"])`.
pub(crate) struct ResultsArg {
    pub(crate) on: bool,
    /// The secret fields of the diffs, as written.
    pub(crate) secret: Vec<LitStr>,
}

/// A named value: `fields(reason = reason, count = items.len())`; `fields(token =
/// secret(token))` marks it secret (written as its HMAC, never in clear).
pub(crate) struct Field {
    pub(crate) key: Ident,
    pub(crate) value: Expr,
    pub(crate) secret: bool,
}

/// Every argument, each at most once.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) action: Option<(Ident, ActionArg)>,
    pub(crate) category: Option<(Ident, StrList)>,
    pub(crate) event_type: Option<(Ident, StrList)>,
    pub(crate) timing: Option<(Ident, LitStr)>,
    pub(crate) message: Option<(Ident, LitStr)>,
    pub(crate) failure_message: Option<(Ident, LitStr)>,
    pub(crate) verbs: Option<(Ident, VerbsArg)>,
    pub(crate) resource: Option<(Ident, ResourceArg)>,
    pub(crate) authorize: Option<(Ident, Expr)>,
    pub(crate) ctx: Option<(Ident, Expr)>,
    pub(crate) fields: Option<(Ident, Vec<Field>)>,
    pub(crate) durability: Option<(Ident, LitStr)>,
    pub(crate) results: Option<(Ident, ResultsArg)>,
    pub(crate) krate: Option<(Ident, Path)>,
    /// Arguments that were given but could not be parsed (already reported): a later check must
    /// not report them missing too.
    pub(crate) unparsed: Vec<String>,
}

impl Args {
    /// Parses the attribute's tokens, recording every problem in `errors`.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Args {
        let parser = |input: ParseStream<'_>| Ok(parse_args(input, errors));
        match syn::parse::Parser::parse2(parser, tokens) {
            Ok(args) => args,
            Err(error) => {
                errors.push(error);
                Args::default()
            }
        }
    }
}

fn parse_args(input: ParseStream<'_>, errors: &mut Errors) -> Args {
    let mut args = Args::default();
    while !input.is_empty() {
        if let Err(error) = parse_one(input, &mut args, errors) {
            errors.push(error);
            // Skip to the next top-level comma to keep reporting other problems.
            while !input.is_empty() && !input.peek(Token![,]) {
                let _ = input.parse::<proc_macro2::TokenTree>();
            }
        }
        if input.is_empty() {
            break;
        }
        if let Err(error) = input.parse::<Token![,]>() {
            errors.push(error);
            break;
        }
    }
    args
}

fn set<T>(slot: &mut Option<(Ident, T)>, name: Ident, value: T, errors: &mut Errors) {
    if slot.is_some() {
        errors.push(syn::Error::new(name.span(), format!("duplicate argument `{name}`")));
    } else {
        *slot = Some((name, value));
    }
}

/// The arguments, each declared once: its name, the slot of [`Args`] it fills, and how its value
/// is parsed (given the input after the name, the name's span, and the error list).
macro_rules! arguments {
    ($($name:literal => $slot:ident: $parse:expr,)*) => {
        /// The top-level argument names, for "unknown argument" errors and suggestions.
        pub(crate) const ARGUMENTS: &[&str] = &[$($name),*];

        /// Parses the value of the argument called `name` into its slot; `None` for an unknown name.
        fn parse_value(name: Ident, input: ParseStream<'_>, args: &mut Args, errors: &mut Errors) -> Option<syn::Result<()>> {
            let parsed = match name.to_string().as_str() {
                $($name => ($parse)(input, name.span(), &mut *errors).map(|value| set(&mut args.$slot, name, value, errors)),)*
                _ => return None,
            };
            Some(parsed)
        }
    };
}

arguments! {
    "action" => action: |input, _, _| parse_action(input),
    "category" => category: |input, _, _| parse_str_list(input),
    "type" => event_type: |input, _, _| parse_str_list(input),
    "timing" => timing: |input, _, _| parse_eq_str(input),
    "message" => message: |input, _, _| parse_eq_str(input),
    "failure_message" => failure_message: |input, _, _| parse_eq_str(input),
    "verbs" => verbs: |input, span, _| parse_verbs(input, span),
    "resource" => resource: parse_resource,
    "authorize" => authorize: |input, _, _| parse_eq_expr(input),
    "ctx" => ctx: |input, _, _| parse_eq_expr(input),
    "fields" => fields: |input, _, errors| parse_fields(input, errors),
    "durability" => durability: |input, _, _| parse_eq_str(input),
    "results" => results: parse_results,
    "crate" => krate: |input, _, _| parse_crate_path(input),
}

fn parse_one(input: ParseStream<'_>, args: &mut Args, errors: &mut Errors) -> syn::Result<()> {
    // `type` and `crate` are keywords: parse any identifier.
    let name = input.call(Ident::parse_any)?;
    let key = name.to_string();
    match parse_value(name.clone(), input, args, errors) {
        Some(parsed) => parsed.inspect_err(|_| args.unparsed.push(key)),
        None => {
            let hint = match audit_schema::suggest::closest(&key, ARGUMENTS.iter().copied()) {
                Some(close) => format!("; did you mean `{close}`?"),
                None => format!("; expected one of: {}", ARGUMENTS.join(", ")),
            };
            Err(syn::Error::new(name.span(), format!("unknown argument `{key}`{hint}")))
        }
    }
}

fn parse_crate_path(input: ParseStream<'_>) -> syn::Result<Path> {
    input.parse::<Token![=]>()?;
    if input.peek(LitStr) {
        input.parse::<LitStr>()?.parse::<Path>()
    } else {
        input.call(Path::parse_mod_style)
    }
}

fn parse_eq_expr(input: ParseStream<'_>) -> syn::Result<Expr> {
    input.parse::<Token![=]>()?;
    input.parse()
}

/// The expression inside the invisible groups that `macro_rules!` puts around `$x:literal`,
/// `$x:expr` and `$x:path` fragments: an attribute generated by a macro reads as if written.
fn ungroup(expr: Expr) -> Expr {
    match expr {
        Expr::Group(group) => ungroup(*group.expr),
        other => other,
    }
}

fn parse_eq_str(input: ParseStream<'_>) -> syn::Result<LitStr> {
    input.parse::<Token![=]>()?;
    let expr: Expr = ungroup(input.parse()?);
    match expr {
        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => Ok(lit),
        other => Err(syn::Error::new(other.span(), "expected a string literal")),
    }
}

fn parse_action(input: ParseStream<'_>) -> syn::Result<ActionArg> {
    input.parse::<Token![=]>()?;
    let expr: Expr = ungroup(input.parse()?);
    match expr {
        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => Ok(ActionArg::Name(lit)),
        Expr::Path(path) if path.qself.is_none() => Ok(ActionArg::Constant(path.path)),
        other => Err(syn::Error::new(
            other.span(),
            "expected an action name (`action = \"dashboard_export\"`) or an `Action` constant (`action = DASHBOARD_EXPORT`)",
        )),
    }
}

fn parse_str_list(input: ParseStream<'_>) -> syn::Result<StrList> {
    input.parse::<Token![=]>()?;
    let expr: Expr = ungroup(input.parse()?);
    let span = expr.span();
    let as_str = |expr: &Expr| match expr {
        Expr::Group(group) => match ungroup(Expr::Group(group.clone())) {
            Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => Ok(lit),
            other => Err(syn::Error::new(other.span(), "expected a string literal")),
        },
        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => Ok(lit.clone()),
        other => Err(syn::Error::new(other.span(), "expected a string literal")),
    };
    let items = match &expr {
        Expr::Array(array) => array.elems.iter().map(as_str).collect::<syn::Result<Vec<_>>>()?,
        single => vec![as_str(single)?],
    };
    Ok(StrList { span, items })
}

fn parse_results(input: ParseStream<'_>, _: Span, errors: &mut Errors) -> syn::Result<ResultsArg> {
    if input.is_empty() || input.peek(Token![,]) {
        return Ok(ResultsArg { on: true, secret: Vec::new() });
    }
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        let expr: Expr = ungroup(input.parse()?);
        return match expr {
            Expr::Lit(ExprLit { lit: Lit::Bool(on), .. }) => Ok(ResultsArg { on: on.value, secret: Vec::new() }),
            other => Err(syn::Error::new(
                other.span(),
                "`results` is `results`, `results = true`, `results = false`, or `results(secret = [\"password\"])`",
            )),
        };
    }
    let content;
    syn::parenthesized!(content in input);
    let mut secret = Vec::new();
    while !content.is_empty() {
        let name = content.call(Ident::parse_any)?;
        if name != "secret" {
            let hint = match audit_schema::suggest::closest(&name.to_string(), ["secret"]) {
                Some(close) => format!("; did you mean `{close}`?"),
                None => "; `results(…)` takes `secret = [\"field\", \"/json/pointer\"]`".to_owned(),
            };
            errors.push(syn::Error::new(name.span(), format!("unknown results argument `{name}`{hint}")));
            // The rest of the parentheses is this argument's: skipped, reported once.
            while !content.is_empty() {
                let _ = content.parse::<proc_macro2::TokenTree>();
            }
            break;
        }
        secret.extend(parse_str_list(&content)?.items);
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(ResultsArg { on: true, secret })
}

fn parse_verbs(input: ParseStream<'_>, span: Span) -> syn::Result<VerbsArg> {
    let content;
    syn::parenthesized!(content in input);
    let words: Punctuated<LitStr, Token![,]> = content.parse_terminated(|p| p.parse::<LitStr>(), Token![,])?;
    let words: Vec<LitStr> = words.into_iter().collect();
    match <[LitStr; 3]>::try_from(words) {
        Ok([present, progressive, past]) => Ok(VerbsArg { span, present, progressive, past }),
        Err(_) => Err(syn::Error::new(
            span,
            "`verbs` takes three forms: present, progressive, past, e.g. `verbs(\"export\", \"exporting\", \"exported\")`",
        )),
    }
}

fn parse_resource(input: ParseStream<'_>, span: Span, errors: &mut Errors) -> syn::Result<ResourceArg> {
    let content;
    syn::parenthesized!(content in input);
    let mut resource = ResourceArg { span, kind: None, id: None, name: None, each: None };
    while !content.is_empty() {
        let name = content.call(Ident::parse_any)?;
        content.parse::<Token![=]>()?;
        let value: Expr = ungroup(content.parse()?);
        let slot = match name.to_string().as_str() {
            "type" => &mut resource.kind,
            "id" => &mut resource.id,
            "name" => &mut resource.name,
            "each" => &mut resource.each,
            other => {
                let hint = match audit_schema::suggest::closest(other, RESOURCE_ARGUMENTS.iter().copied()) {
                    Some(close) => format!("; did you mean `{close}`?"),
                    None => format!("; expected one of: {}", RESOURCE_ARGUMENTS.join(", ")),
                };
                errors.push(syn::Error::new(name.span(), format!("unknown resource argument `{other}`{hint}")));
                if content.is_empty() {
                    break;
                }
                content.parse::<Token![,]>()?;
                continue;
            }
        };
        if slot.is_some() {
            errors.push(syn::Error::new(name.span(), format!("duplicate resource argument `{name}`")));
        } else {
            *slot = Some(value);
        }
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(resource)
}

fn parse_fields(input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<Vec<Field>> {
    let content;
    syn::parenthesized!(content in input);
    let parsed: Punctuated<Field, Token![,]> = content.parse_terminated(Field::parse, Token![,])?;
    let mut fields: Vec<Field> = Vec::new();
    for field in parsed {
        if fields.iter().any(|f| f.key == field.key) {
            errors.push(syn::Error::new(field.key.span(), format!("duplicate field `{}`", field.key)));
        } else {
            fields.push(field);
        }
    }
    Ok(fields)
}

impl Parse for Field {
    fn parse(input: ParseStream<'_>) -> syn::Result<Field> {
        let key = input.call(Ident::parse_any)?;
        input.parse::<Token![=]>()?;
        let value: Expr = input.parse()?;
        match value {
            Expr::Call(call)
                if call.args.len() == 1 && matches!(&*call.func, Expr::Path(p) if p.path.is_ident("secret")) =>
            {
                let value = call.args.into_iter().next().expect("one argument");
                Ok(Field { key, value, secret: true })
            }
            value => Ok(Field { key, value, secret: false }),
        }
    }
}
