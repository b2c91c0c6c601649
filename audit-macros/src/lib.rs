//! The `#[audited]` attribute of `audit-core`. Use it through `audit_core::audited`, whose
//! documentation describes every argument.
//!
//! Pipeline, one module a step: `attr` parses the arguments, `shape` reads the function,
//! `check` validates both against ECS and the action catalog into a plan, `expand` generates
//! the code. On any error the function is emitted unchanged next to the `compile_error!`s, so the
//! user sees only the real problems, not a cascade from a half-generated body.

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
