//! Code generation: the function keeps its attributes, visibility and signature token for token
//! (rustdoc and IDEs see it unchanged); only its block is replaced by
//!
//! 1. resolve the action, the context and the logger (`Call::begin`), and skip everything below
//!    that builds events when no event can be seen (ignore filters);
//! 2. prepare the targets (resources, message, fields) from the parameters, before the body can
//!    consume them;
//! 3. `authorize`: on `Err`, one `failure` event per target and the error is returned; should
//!    the check panic, one `failure` per target as it unwinds;
//! 4. writes: the `unknown` event, then the body as written;
//!    reads: the body in a closure / async block (to catch `return` and `?`), then the
//!    `success`/`failure` event from its result. A guard logs a panic either way.

use audit_schema::Timing;
use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Block, Expr, ExprLit, Lit};

use crate::check::{ActionPlan, Authorize, ContextSource, Message, Plan, ResourcePlan};
use crate::shape::{async_trait_body, BodyKind, FnShape};

/// `let id = id;` / `let mut id = id;` / `let __self = self;`: how `#[async_trait]` moves a
/// parameter into its async block.
fn is_parameter_move(stmt: &syn::Stmt) -> bool {
    let syn::Stmt::Local(local) = stmt else { return false };
    let Some(init) = &local.init else { return false };
    let simple = matches!(&local.pat, syn::Pat::Ident(_))
        || matches!(&local.pat, syn::Pat::Type(t) if matches!(*t.pat, syn::Pat::Ident(_)));
    simple && init.diverge.is_none() && matches!(&*init.expr, Expr::Path(path) if path.path.get_ident().is_some())
}

/// `if let Some(__ret) = None::<R> { return __ret; }`: how `#[async_trait]` gives its block a
/// return type, ahead of the parameter moves.
fn is_typing_return(stmt: &syn::Stmt) -> bool {
    matches!(stmt, syn::Stmt::Expr(Expr::If(if_expr), _) if matches!(&*if_expr.cond, Expr::Let(_)) && if_expr.else_branch.is_none())
}

/// The hidden runtime module of the `audit-core` of this very version (`__private_0_1_0`):
/// `audit-core` pins this crate with `=`, and an expansion by another version cannot compile
/// against it by accident.
fn runtime_module() -> proc_macro2::Ident {
    let version = env!("CARGO_PKG_VERSION").replace(['.', '-', '+'], "_");
    format_ident!("__private_{}", version)
}

pub(crate) fn expand(plan: &Plan, shape: &FnShape<'_>) -> TokenStream {
    let krate = &plan.krate;
    let runtime = runtime_module();
    let p = quote!(#krate::#runtime);
    let function = shape.function;
    let (attrs, vis, sig) = (&function.attrs, &function.vis, &function.sig);

    let prelude = prelude(plan, shape, &p);
    let block = match &shape.body {
        BodyKind::Sync => {
            let run = run_body(plan, shape, &p, &function.body, false);
            quote!({ #prelude #run })
        }
        BodyKind::Async => {
            let run = run_body(plan, shape, &p, &function.body, true);
            quote!({ #prelude #run })
        }
        BodyKind::AsyncTrait(outer) => {
            // Rebuild `Box::pin(async move { … })` around the instrumented body, keeping the
            // original `Box::pin` path and spans.
            let inner = async_trait_body(outer).expect("recognized as an async-trait body");
            // `#[async_trait]` opens the block by moving the parameters in (`let id = id;`):
            // those stay first, so that the attribute's own uses of a parameter are uses of the
            // moved binding (else the binding would be unused when only the attribute names it).
            let moves = inner.stmts.iter().take_while(|stmt| is_parameter_move(stmt) || is_typing_return(stmt)).count();
            let (bindings, statements) = inner.stmts.split_at(moves);
            let inner = Group::new(Delimiter::Brace, statements.iter().map(ToTokens::to_token_stream).collect());
            let run = run_body(plan, shape, &p, &inner, true);
            let mut outer = (**outer).clone();
            if let Some(syn::Stmt::Expr(Expr::Call(call), None)) = outer.stmts.first_mut() {
                if let Some(Expr::Async(async_block)) = call.args.first_mut() {
                    async_block.block = syn::parse_quote!({ #(#bindings)* #prelude #run });
                }
            }
            outer.into_token_stream()
        }
    };
    quote! {
        #(#attrs)*
        #vis #sig #block
    }
}

/// Steps 1 to 3, and the guard.
fn prelude(plan: &Plan, shape: &FnShape<'_>, p: &TokenStream) -> TokenStream {
    // A fail-closed sink that cannot take the intent (writes), or is failing before a read runs,
    // refuses the call: the body does not run.
    let refuse = refusal(shape, p);
    // Async functions wait for their events' durability without blocking their thread.
    let log_intent = if shape.is_async() {
        quote!(log_intent_async(&__audit_targets).await)
    } else {
        quote!(log_intent(&__audit_targets))
    };
    let intent = quote! {
        if let #p::Result::Err(__audit_refused) = __audit_call.#log_intent {
            #refuse
        }
    };
    let admit = quote! {
        if let #p::Result::Err(__audit_refused) = __audit_call.admit() {
            #refuse
        }
    };
    let admission = match plan.known_timing {
        Some(Timing::Before) => intent,
        Some(Timing::After) => admit,
        _ => quote!(#intent #admit),
    };
    let action = action_binding(plan, p);
    let timing = match plan.timing_override {
        Some(timing) => {
            let timing = timing_tokens(timing, p);
            quote!(#p::Option::Some(#timing))
        }
        None => quote!(#p::Option::None),
    };
    let durability = match &plan.durability {
        Some((level, span)) => {
            let level = Ident::new(level.variant_name(), *span);
            quote!(#p::Option::Some(#p::Durability::#level))
        }
        None => quote!(#p::Option::None),
    };
    let ctx = match &plan.ctx {
        ContextSource::Explicit(expr) => quote_spanned!(expr.span()=> #p::context_of(&(#expr))),
        ContextSource::Parameter(ident) => quote!(#p::context_of(&#ident)),
        ContextSource::Ambient => quote!(#p::Option::None),
    };
    let results = match &plan.results {
        Some(results) => {
            let on = results.on;
            let secret = &results.secret;
            quote!(#p::Option::Some(#p::ResultsArg { on: #on, secret_fields: &[#(#secret),*] }))
        }
        None => quote!(#p::Option::None),
    };
    let keep_context = matches!(plan.authorize, Some(Authorize::Function(_)));
    let targets = targets(plan, p);
    let authorize = plan.authorize.as_ref().map(|authorize| {
        // Through `AuthorizeResult`: a check that returns something else (a `bool`, say) is an
        // error at the check that says what it must return.
        let check = match authorize {
            Authorize::Function(path) => {
                quote_spanned!(path.span()=> #p::AuthorizeResult::into_result(#path(__audit_call.context())))
            }
            Authorize::Expr(expr) => quote_spanned!(expr.span()=> #p::AuthorizeResult::into_result(#expr)),
        };
        quote! {
            let __audit_authorizing = __audit_call.authorizing(&__audit_targets);
            match #check {
                #p::Result::Ok(_) => __audit_authorizing.passed(),
                #p::Result::Err(__audit_error) => {
                    __audit_authorizing.denied({
                        #[allow(unused_imports)]
                        use #p::probe::*;
                        (&&&&#p::probe::ErrorProbe(&__audit_error)).audit_error_info()
                    });
                    return #p::Result::Err(#p::From::from(__audit_error));
                }
            }
        }
    });
    quote! {
        #action
        let __audit_call = #p::Call::begin(__audit_action, #timing, #durability, #results, #ctx, #keep_context);
        #targets
        #authorize
        #admission
        let __audit_guard = __audit_call.guard(&__audit_targets);
    }
}

fn action_binding(plan: &Plan, p: &TokenStream) -> TokenStream {
    match &plan.action {
        ActionPlan::Literal { name, categories, types, timing, verbs, object } => {
            let categories = categories.iter().map(|c| Ident::new(c.variant_name(), Span::call_site()));
            let types = types.iter().map(|t| Ident::new(t.variant_name(), Span::call_site()));
            let timing = timing_tokens(*timing, p);
            let verbs =
                verbs.as_ref().map(|[present, progressive, past]| quote!(.with_verbs(#present, #progressive, #past)));
            let object = object.as_ref().map(|object| quote!(.with_object(#object)));
            let results = plan.results.as_ref().filter(|r| r.on).map(|results| {
                let secret = &results.secret;
                if secret.is_empty() {
                    quote!(.with_results())
                } else {
                    quote!(.with_secret_fields(&[#(#secret),*]))
                }
            });
            quote! {
                const __AUDIT_ACTION: #p::Action = #p::Action::with_categories(
                    #name,
                    &[#(#p::Category::#categories),*],
                    &[#(#p::EventType::#types),*],
                )
                .with_timing(#timing) #verbs #object #results;
                let __audit_action: &'static #p::Action = &__AUDIT_ACTION;
            }
        }
        ActionPlan::Constant(path) => {
            // Only the reference takes the path's span (for errors about it): the binding is
            // the expansion's own, whatever macro the path came from.
            let reference = quote_spanned!(path.span()=> &#path);
            quote!(let __audit_action: &'static #p::Action = #reference;)
        }
    }
}

/// Step 2: builds `__audit_targets` only when the call's events can be seen.
fn targets(plan: &Plan, p: &TokenStream) -> TokenStream {
    let field_locals: Vec<Ident> = plan.fields.iter().map(|f| format_ident!("__audit_field_{}", f.key)).collect();
    // A field is text: a secret's (marked `secret(…)`, or of type `Secret<T>`) is its HMAC under
    // the logger's key, made here, so the clear value is never stored in the event.
    let field_values = plan.fields.iter().map(|f| {
        let value = &f.value;
        if f.secret {
            quote_spanned!(value.span()=> __audit_call.conceal(&(#value)))
        } else {
            quote_spanned!(value.span()=> {
                #[allow(unused_imports)]
                use #p::probe::*;
                (&&#p::probe::FieldProbe(&(#value))).audit_field(&__audit_call)
            })
        }
    });
    let field_keys = plan.fields.iter().map(|f| f.key.to_string());
    let resource = plan.resource.as_ref().map(|resource| resource_tokens(resource, p));
    let message = plan.message.as_ref().map(|m| {
        let format = message_tokens(m, p);
        quote!(__audit_targets.message(#format);)
    });
    let failure_message = plan.failure_message.as_ref().map(|m| {
        let format = message_tokens(m, p);
        quote!(__audit_targets.failure_message(#format);)
    });
    if plan.fields.is_empty() && resource.is_none() && message.is_none() && failure_message.is_none() {
        return quote!(let __audit_targets = #p::Targets::none(););
    }
    quote! {
        let mut __audit_targets = #p::Targets::none();
        if __audit_call.is_enabled() {
            #(let #field_locals: #p::String = #field_values;)*
            #resource
            #message
            #failure_message
            #(__audit_targets.label(#field_keys, #field_locals);)*
        }
    }
}

fn resource_tokens(resource: &ResourcePlan, p: &TokenStream) -> TokenStream {
    let kind = match &resource.kind {
        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => quote!(#lit),
        other => quote_spanned!(other.span()=> #p::ToString::to_string(&(#other))),
    };
    let Some(each) = &resource.each else {
        let id = optional_text(resource.id.as_ref(), p);
        let name = optional_text(resource.name.as_ref(), p);
        return quote!(__audit_targets.resource(#kind, #id, #name););
    };
    let items = match each {
        Expr::Path(path) if path.path.get_ident().is_some() => {
            quote_spanned!(each.span()=> (#each).iter())
        }
        other => quote_spanned!(other.span()=> #p::IntoIterator::into_iter(#other)),
    };
    let from_item = |closure: Option<&Expr>| match closure {
        Some(closure) => {
            quote_spanned!(closure.span()=> #p::ToString::to_string(&#p::apply(__audit_item, #closure)))
        }
        None => quote!(#p::ToString::to_string(&__audit_item)),
    };
    let id = from_item(resource.id.as_ref());
    let name = match &resource.name {
        Some(closure) => {
            let name = from_item(Some(closure));
            quote!(#p::Option::Some(#name))
        }
        None => quote!(#p::Option::None),
    };
    quote! {
        let __audit_kind: #p::Cow<'static, str> = #p::From::from(#kind);
        for __audit_item in #items {
            __audit_targets.resource(__audit_kind.clone(), #p::Option::Some(#id), #name);
        }
    }
}

fn optional_text(value: Option<&Expr>, p: &TokenStream) -> TokenStream {
    match value {
        Some(value) => {
            quote_spanned!(value.span()=> #p::Option::Some(#p::ToString::to_string(&(#value))))
        }
        None => quote!(#p::Option::None),
    }
}

/// `format!` with the template as written: parameters are captured by name (the literal keeps
/// the user's span, so the capture resolves in the function's scope); fields are named arguments.
fn message_tokens(message: &Message, p: &TokenStream) -> TokenStream {
    let template = &message.template;
    let names = &message.field_names;
    let locals = names.iter().map(|n| format_ident!("__audit_field_{}", n));
    quote!(#p::format!(#template #(, #names = #locals)*))
}

/// Step 4.
fn run_body(plan: &Plan, shape: &FnShape<'_>, p: &TokenStream, block: &Group, is_async: bool) -> TokenStream {
    if plan.body_in_place {
        // A sync write with `#[track_caller]`: its intent is out; the body runs as written, so
        // that the caller's location is tracked (early `return` and `?` leave directly). The
        // guard stays alive to log a panic; there is no result to log.
        // `{ expr }` as the tail of our block would trip `unused_braces` on the user's code: a
        // block that is one bare expression is emitted as that expression (it has no scope to keep).
        return match syn::parse2::<Block>(block.to_token_stream()) {
            Ok(parsed) => match parsed.stmts.as_slice() {
                [syn::Stmt::Expr(expr, None)] => quote!(#expr),
                _ => quote!(#block),
            },
            // Emitted as written: the compiler reports the syntax error at its token.
            Err(_) => quote!(#block),
        };
    }
    // The fake return edge gives the wrapped body the function's return type, so `?` conversions
    // infer and type errors point at the user's code rather than at the attribute. It goes inside
    // the user's own block (which keeps its scope), not around it.
    let mut body = block.clone();
    if let Some(ty) = shape.body_return_type() {
        let statements = block.stream();
        body = Group::new(
            Delimiter::Brace,
            quote! {
                #[allow(unreachable_code, clippy::diverging_sub_expression)]
                if false {
                    let __audit_fake_return: #ty = ::core::unreachable!();
                    return __audit_fake_return;
                }
                #statements
            },
        );
        body.set_span(block.span());
    }
    // Run through `FnOnce`: a closure so called may return what borrows from its captures (a
    // read-through cache's `&mut self -> &V`); called directly it would be inferred `FnMut`.
    // The guard makes the call current for `changes::…` while the body runs.
    let run = if is_async {
        quote!(__audit_guard.run_async(async move #body).await)
    } else {
        quote!(__audit_guard.run(move || #body))
    };
    let (complete, awaited) =
        if is_async { (quote!(complete_with_async), quote!(.await)) } else { (quote!(complete_with), quote!()) };
    let refuse = refusal(shape, p);
    // The result's type, where the signature names it: a body that only panics would otherwise
    // leave it to be inferred from how the outcome is judged.
    let ascription = shape.output_type().map(|ty| quote!(: #ty));
    quote! {
        #[allow(clippy::redundant_closure_call, clippy::let_unit_value)]
        let __audit_ret #ascription = #run;
        let __audit_recorded = __audit_guard.#complete(|| {
            #[allow(unused_imports)]
            use #p::probe::*;
            (&&&&&#p::probe::OutcomeProbe(&__audit_ret)).audit_completion()
        })#awaited;
        if let #p::Result::Err(__audit_refused) = __audit_recorded {
            #refuse
        }
        __audit_ret
    }
}

/// The statement that ends a refused call: `return Err(E::from(refused))` where the output is a
/// `Result` whose error converts, else a panic (see `probe::Refusal`).
fn refusal(shape: &FnShape<'_>, p: &TokenStream) -> TokenStream {
    match shape.output_type() {
        Some(ty) if !matches!(ty, syn::Type::Infer(_)) => quote! {
            return {
                #[allow(unused_imports)]
                use #p::probe::*;
                (&&#p::probe::Refusal::<#ty>::new(__audit_refused)).audit_refuse()
            };
        },
        _ => quote!(#p::probe::refuse_by_panic(__audit_refused);),
    }
}

fn timing_tokens(timing: Timing, p: &TokenStream) -> TokenStream {
    let variant = Ident::new(timing.variant_name(), Span::call_site());
    quote!(#p::Timing::#variant)
}
