//! [`activity_group!`]: one task queue's activities as the Temporal worker registers them. Each
//! activity is a plain `async fn` in its own file returning [`crate::failure::Classified`]; the
//! group turns each into a method that delegates to it, through [`crate::heartbeat::heartbeating`]
//! (long work) or [`crate::heartbeat::plain`] (quick work), the one explicit conversion into the
//! SDK's `ActivityError`.

/// Declares a group: its struct (the shared [`crate::deps::Deps`] and any extra fields), `new`,
/// and the `#[activities]` block of one-line delegates:
///
/// ```ignore
/// activity_group! {
///     /// Activities on the `annapurna` task queue.
///     LocalActivities {}
///     /// LoadPaper: …
///     LoadPaper => heartbeating load_paper::load_paper(LoadPaperInput) -> PaperRef;
/// }
/// ```
///
/// Fields of the group named after the input type are passed by reference after the input
/// (`execute_code::execute_code(ExecuteCodeInput, sandbox)`).
macro_rules! activity_group {
    (
        $(#[$group_doc:meta])*
        $group:ident { $($field:ident: $field_ty:ty),* $(,)? }
        $(
            $(#[$doc:meta])*
            $def:ident => $mode:ident $module:ident::$method:ident($input:ty $(, $extra:ident)*) -> $output:ty;
        )*
    ) => {
        $(#[$group_doc])*
        pub struct $group {
            deps: std::sync::Arc<$crate::deps::Deps>,
            $($field: $field_ty,)*
        }

        impl $group {
            /// Activities over these dependencies.
            pub fn new(deps: std::sync::Arc<$crate::deps::Deps> $(, $field: $field_ty)*) -> Self {
                Self { deps $(, $field)* }
            }
        }

        #[temporalio_macros::activities]
        impl $group {
            $(
                $(#[$doc])*
                #[activity(definition = workflows::activities::defs::$def)]
                pub async fn $method(
                    self: std::sync::Arc<Self>,
                    ctx: temporalio_sdk::activities::ActivityContext,
                    input: $input,
                ) -> Result<$output, temporalio_sdk::activities::ActivityError> {
                    $crate::heartbeat::$mode(
                        &ctx,
                        $module::$method(
                            $crate::deps::Call { deps: &self.deps, ctx: &ctx },
                            input
                            $(, &self.$extra)*
                        ),
                    )
                    .await
                }
            )*
        }
    };
}

pub(crate) use activity_group;
