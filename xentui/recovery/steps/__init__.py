"""One module per kind of plan step, each holding the whole step: its
declaration, preconditions, action, verification and idempotence check.
Each names itself in `STEP = StepKind(...)`; `step_registry` finds them."""
