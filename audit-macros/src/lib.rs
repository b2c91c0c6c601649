//! The `#[audited]` attribute of `audit-core`. Use it through `audit_core::audited`, whose
//! documentation describes every argument.
//!
//! Pipeline, one module a step: `attr` parses the arguments, `shape` reads the function,
//! `check` validates both against ECS and the action catalog into a plan, `expand` generates
//! the code. On any error the function is emitted unchanged next to the `compile_error!`s, so the
//! user sees only the real problems, not a cascade from a half-generated body.

#![warn(unreachable_pub, missing_debug_implementations)]

mod attr;
mod check;
mod errors;
mod expand;
mod message;
mod shape;

use proc_macro::TokenStream;

/// Audits a function. This is re-exported, with its full documentation (arguments, outcomes,
/// examples), as `audit_core::audited`; depend on `audit-core`, not on this crate.
#[proc_macro_attribute]
pub fn audited(args: TokenStream, item: TokenStream) -> TokenStream {
    audited_impl(args.into(), item.into()).into()
}

fn audited_impl(args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let function: shape::MaybeItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let message = match syn::parse2::<syn::TraitItemFn>(item.clone()) {
                Ok(_) => {
                    "#[audited] needs a function body: put it on the implementation, not on the trait's declaration"
                }
                Err(_) => "#[audited] goes on a function",
            };
            let error = syn::Error::new(proc_macro2::Span::call_site(), message).to_compile_error();
            return quote::quote!(#error #item);
        }
    };
    let mut errors = errors::Errors::default();
    let parsed = attr::Args::parse(args, &mut errors);
    let shape = shape::FnShape::of(&function);
    match check::plan(parsed, &shape, &mut errors) {
        Some(plan) if errors.is_empty() => expand::expand(&plan, &shape),
        _ => {
            let errors = errors.to_compile_errors();
            quote::quote!(#errors #function)
        }
    }
}

#[cfg(test)]
mod tests {
    //! The expansion over arbitrary arguments and function shapes: always tokens (an
    //! instrumented function, or compile errors beside the function as written), never a panic.

    use proptest::prelude::*;

    const NAMES: &[&str] = &[
        "action",
        "category",
        "type",
        "timing",
        "message",
        "failure_message",
        "verbs",
        "resource",
        "authorize",
        "ctx",
        "fields",
        "durability",
        "results",
        "crate",
        "actoin",
        "typ",
        "self",
        "r#type",
    ];

    const VALUES: &[&str] = &[
        "= \"dashboard_get\"",
        "= \"saved_object_update\"",
        "= \"Not An Action\"",
        "= SPACE_GET",
        "= kibana::SPACE_GET",
        "= \"database\"",
        "= [\"iam\", \"web\"]",
        "= []",
        "= \"before\"",
        "= \"during\"",
        "= \"durable\"",
        "= \"User read {id} of {missing} {}\"",
        "(type = \"dashboard\", id = id)",
        "(type = \"dashboard\", each = ids, id = |x| x, name = |x| x)",
        "(idd = id)",
        "(\"a\", \"b\", \"c\")",
        "(\"a\")",
        "= is_editor",
        "= ctx",
        "(x = secret(id), y = id + 1, x = 2)",
        "= 42",
        "",
        "= =",
        "= \"\"",
        "= ::audit_core",
        "= true",
        "(secret = [\"password\", \"/a/b\"])",
        "(secrte = \"x\")",
        "(",
    ];

    const FUNCTIONS: &[&str] = &[
        "fn f(id: u32) -> u32 { id }",
        "pub async fn f(&self, id: u32) -> Result<(), E> { Ok(()) }",
        "fn f() {}",
        "const fn f() {}",
        "struct S;",
        "fn f(ctx: &AuditContext, id: u32) -> impl Future<Output = ()> { async {} }",
        "fn f(id: u32) -> u32 { id * }",
        "fn f<T: Clone>(x: T) -> T where T: Copy { x }",
        "#[track_caller] fn f() -> u32 { 1 }",
        "fn f(self: Box<Self>) {}",
        "fn f((a, b): (u32, u32), ids: &[u32]) -> Result<Vec<u32>, String> { Ok(vec![a, b]) }",
        "fn g(&mut self) -> &String { &self.s }",
        "fn f(a: &AuditContext, b: AuditContext) {}",
        "fn f() -> ! { loop {} }",
        "fn f(id: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> { Box::pin(async move { id }) }",
        "fn f(id: u32) -> Result<(), E> { changes::update(&1, &2); audit_core::changes::of(id).delete(&1); Ok(()) }",
    ];

    fn arguments() -> impl Strategy<Value = String> {
        prop::collection::vec((prop::sample::select(NAMES), prop::sample::select(VALUES)), 0..6).prop_map(|args| {
            args.into_iter().map(|(name, value)| format!("{name} {value}")).collect::<Vec<_>>().join(", ")
        })
    }

    fn expands_without_panicking(args: &str, item: &str) {
        let (Ok(args), Ok(item)) = (args.parse::<proc_macro2::TokenStream>(), item.parse::<proc_macro2::TokenStream>())
        else {
            return; // not even tokens: the compiler stops before the attribute runs
        };
        // A body with a syntax error is passed on as written, for the compiler to report.
        let well_formed = syn::parse2::<syn::ItemFn>(item.clone()).is_ok();
        let expanded = std::panic::catch_unwind(|| super::audited_impl(args, item));
        let expanded = expanded.unwrap_or_else(|_| panic!("the expansion panicked"));
        let text = expanded.to_string();
        assert!(!text.is_empty());
        if well_formed && !text.contains("compile_error") {
            syn::parse2::<syn::ItemFn>(expanded).expect("without errors, the expansion is a function");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn known_pieces_in_any_combination(args in arguments(), function in prop::sample::select(FUNCTIONS)) {
            expands_without_panicking(&args, function);
        }

        #[test]
        fn arbitrary_text_as_arguments(args in "\\PC{0,60}", function in prop::sample::select(FUNCTIONS)) {
            expands_without_panicking(&args, function);
        }

        #[test]
        fn arbitrary_text_as_the_function(args in arguments(), item in "(pub |async |fn |f|\\(|\\)|\\{|\\}|-> |u32|id|: |, |;){0,16}") {
            expands_without_panicking(&args, &item);
        }
    }
}
