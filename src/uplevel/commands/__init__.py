"""Use cases: one module per command group. Each takes typed values and returns a result
object; none of them prints (the CLI renders). Every change to a home goes through
engine/ (a session, then one transaction); every update, whatever brought it, through
apply.apply_source."""
