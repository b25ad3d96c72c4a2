"""Use cases: one module per command. Each takes typed values and returns a result
object; none of them prints (the CLI renders)."""
