//! What the annotated function looks like: its parameters, whether it is async (natively or as
//! rewritten by `#[async_trait]`), and its return type as usable inside the body.
//!
//! The body is kept as tokens ([`MaybeItemFn`]) and parsed only where the expansion needs its
//! statements: a syntax error inside it then reaches the compiler as written, which reports it
//! at the offending token, instead of failing the whole attribute.

use proc_macro2::{Delimiter, Group, TokenStream};
use quote::{ToTokens, TokenStreamExt};
use syn::parse::{Parse, ParseStream};
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Attribute, Block, Expr, FnArg, Ident, Pat, ReturnType, Signature, Stmt, Type, Visibility};

/// A function whose signature is parsed and whose body is not.
pub(crate) struct MaybeItemFn {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    /// The body, braces included, as written.
    pub(crate) body: Group,
}

impl Parse for MaybeItemFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<MaybeItemFn> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let body = input.step(|cursor| match cursor.group(Delimiter::Brace) {
            Some((inside, span, rest)) => {
                let mut group = Group::new(Delimiter::Brace, inside.token_stream());
                group.set_span(span.join());
                Ok((group, rest))
            }
            None => Err(cursor.error("expected the function's body")),
        })?;
        Ok(MaybeItemFn { attrs, vis, sig, body })
    }
}

impl ToTokens for MaybeItemFn {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.append_all(&self.attrs);
        self.vis.to_tokens(tokens);
        self.sig.to_tokens(tokens);
        self.body.to_tokens(tokens);
    }
}

/// How the body runs.
pub(crate) enum BodyKind {
    /// A plain `fn`: the body is the function's block, as written.
    Sync,
    /// An `async fn`: the body is the function's block, run inside the returned future.
    Async,
    /// A method rewritten by `#[async_trait]`: `Box::pin(async move { body })`, parsed. The
    /// instrumented code goes inside a new `Box::pin(async move { … })`.
    AsyncTrait(Box<Block>),
}

pub(crate) struct FnShape<'a> {
    pub(crate) function: &'a MaybeItemFn,
    pub(crate) body: BodyKind,
    /// Every name the parameters bind (`self` included), for message placeholders.
    pub(crate) bound_names: Vec<Ident>,
    /// Parameters whose type is `AuditContext` (or a reference to one).
    pub(crate) context_params: Vec<Ident>,
}

impl<'a> FnShape<'a> {
    pub(crate) fn of(function: &'a MaybeItemFn) -> FnShape<'a> {
        let mut bound_names = Vec::new();
        let mut context_params = Vec::new();
        for input in &function.sig.inputs {
            match input {
                FnArg::Receiver(receiver) => bound_names.push(Ident::new("self", receiver.self_token.span)),
                FnArg::Typed(typed) => {
                    let mut collector = BoundNames(&mut bound_names);
                    collector.visit_pat(&typed.pat);
                    if let (Pat::Ident(pat), true) = (&*typed.pat, is_audit_context(&typed.ty)) {
                        context_params.push(pat.ident.clone());
                    }
                }
            }
        }
        let body = if function.sig.asyncness.is_some() {
            BodyKind::Async
        } else {
            match syn::parse2::<Block>(function.body.to_token_stream()) {
                Ok(block) if async_trait_body(&block).is_some() => BodyKind::AsyncTrait(Box::new(block)),
                _ => BodyKind::Sync,
            }
        };
        FnShape { function, body, bound_names, context_params }
    }

    /// The declared return type with `impl Trait` replaced by `_`, usable as a `let` type inside
    /// the body. `None` for `()` and `!` (nothing to gain) and for async-trait bodies (already typed).
    pub(crate) fn body_return_type(&self) -> Option<Type> {
        if matches!(self.body, BodyKind::AsyncTrait(_)) {
            return None;
        }
        match &self.function.sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)) => None,
            ReturnType::Type(_, ty) => {
                let mut ty = (**ty).clone();
                EraseImplTrait.visit_type_mut(&mut ty);
                Some(ty)
            }
        }
    }
}

/// `AuditContext`, `&AuditContext`, `&mut AuditContext`, `path::to::AuditContext`.
fn is_audit_context(ty: &Type) -> bool {
    match ty {
        Type::Reference(reference) => is_audit_context(&reference.elem),
        Type::Path(path) => {
            path.qself.is_none() && path.path.segments.last().is_some_and(|s| s.ident == "AuditContext")
        }
        Type::Paren(paren) => is_audit_context(&paren.elem),
        _ => false,
    }
}

/// Recognizes `#[async_trait]`'s output: a block whose only statement is
/// `Box::pin(async move { … })`, and returns the inner block.
pub(crate) fn async_trait_body(block: &Block) -> Option<&Block> {
    let [Stmt::Expr(Expr::Call(call), None)] = block.stmts.as_slice() else {
        return None;
    };
    let Expr::Path(func) = &*call.func else {
        return None;
    };
    let segments: Vec<String> = func.path.segments.iter().map(|s| s.ident.to_string()).collect();
    let is_box_pin = segments.ends_with(&["Box".to_owned(), "pin".to_owned()]);
    match (is_box_pin, call.args.len(), call.args.first()) {
        (true, 1, Some(Expr::Async(inner))) if inner.capture.is_some() => Some(&inner.block),
        _ => None,
    }
}

impl FnShape<'_> {
    /// Whether the body runs as a future (an `async fn`, or an `#[async_trait]` method).
    pub(crate) fn is_async(&self) -> bool {
        matches!(self.body, BodyKind::Async | BodyKind::AsyncTrait(_))
    }

    /// The type the function's body evaluates to (its future's output for async functions),
    /// with `impl Trait` erased: what a refusal must be turned into. `None` when it cannot be
    /// named (`!`, or an async-trait signature of an unexpected form).
    pub(crate) fn output_type(&self) -> Option<Type> {
        let ty = match &self.function.sig.output {
            ReturnType::Default => return Some(syn::parse_quote!(())),
            ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)) => return None,
            ReturnType::Type(_, ty) => ty,
        };
        let mut ty = if matches!(self.body, BodyKind::AsyncTrait(_)) {
            let mut finder = FutureOutput(None);
            finder.visit_type(ty);
            finder.0?
        } else {
            (**ty).clone()
        };
        EraseImplTrait.visit_type_mut(&mut ty);
        Some(ty)
    }
}

impl FnShape<'_> {
    /// Where the body calls `changes::update`, `::create`, `::delete` or `::of` (by any path that
    /// ends so): records of a change, which need a write that logs results.
    pub(crate) fn recorded_changes(&self) -> Vec<proc_macro2::Span> {
        fn scan(tokens: TokenStream, found: &mut Vec<proc_macro2::Span>) {
            let tokens: Vec<proc_macro2::TokenTree> = tokens.into_iter().collect();
            for (i, token) in tokens.iter().enumerate() {
                match token {
                    proc_macro2::TokenTree::Group(group) => scan(group.stream(), found),
                    proc_macro2::TokenTree::Ident(ident) if ident == "changes" => {
                        let is_colon = |t: Option<&proc_macro2::TokenTree>| matches!(t, Some(proc_macro2::TokenTree::Punct(p)) if p.as_char() == ':');
                        let next = tokens.get(i + 3);
                        let records = matches!(next, Some(proc_macro2::TokenTree::Ident(verb))
                            if ["update", "create", "delete", "of"].iter().any(|v| verb == v));
                        if is_colon(tokens.get(i + 1)) && is_colon(tokens.get(i + 2)) && records {
                            found.push(ident.span());
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut found = Vec::new();
        scan(self.function.body.stream(), &mut found);
        found
    }
}

/// Finds `Output = T` in `Pin<Box<dyn Future<Output = T> + Send + 'async_trait>>`.
struct FutureOutput(Option<Type>);

impl<'ast> Visit<'ast> for FutureOutput {
    fn visit_assoc_type(&mut self, assoc: &'ast syn::AssocType) {
        if assoc.ident == "Output" && self.0.is_none() {
            self.0 = Some(assoc.ty.clone());
        }
    }
}

struct BoundNames<'v>(&'v mut Vec<Ident>);

impl<'ast> Visit<'ast> for BoundNames<'_> {
    fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
        self.0.push(pat.ident.clone());
        syn::visit::visit_pat_ident(self, pat);
    }
}

struct EraseImplTrait;

impl VisitMut for EraseImplTrait {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(impl_trait) = ty {
            *ty = Type::Infer(syn::TypeInfer { underscore_token: syn::Token![_](impl_trait.impl_token.span) });
        } else {
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
}
